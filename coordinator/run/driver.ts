/**
 * The GRPO run driver (modes `rule`, `static-rm`, `cooper`). `rlStep` reads as the algorithm — take the step's
 * scored rollouts, compute rewards, (cooper) build verified pairs and update the RM, update the policy with GRPO,
 * publish the new weights — and everything distributed (which actor samples what, retries after a crash, weight
 * transfer through the Object Store) happens inside the runtime and the role actors.
 *
 * Asynchrony: the batch for step s+k is launched while step s trains, for k up to `maxStaleness`, so a sample is at
 * most `maxStaleness` policy versions old when it is trained on (0 = synchronous). A batch that is older anyway is
 * dropped, counted as `dropped-stale`, and regenerated. Every sample id goes through the ledger exactly once per
 * state: generated → scored → trained | dropped-stale.
 */
import type { ActorPool } from "../../actors/mod.ts";
import type { RolloutActor } from "../../actors/roles/mod.ts";
import { mixSeed, Rng } from "../../shared/mod.ts";
import {
  AttestationError,
  computeRewards,
  flipRewards,
  groupAdvantages,
  isStale,
  type MathTask,
  type RunConfig,
  type SampledTask,
  SampleLedger,
  SkipGuard,
  WeightAttestations,
} from "../../rl/mod.ts";
import { type DriverState, openCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { loadRunData, type RunData, tasksForStep, type VerificationPair, verificationPairs } from "./data.ts";
import { recordExploit } from "./hacking.ts";
import { readHeldoutAnswers, sampleAccuracy } from "./heldout_answers.ts";
import { RewardModelSide } from "./rm_side.ts";
import { isDue, type JobContext } from "./job.ts";
import { PublishedWeights } from "./published.ts";
import { type RunRoles, spawnRoles } from "./roles.ts";
import {
  type EvalResult,
  evaluate,
  keepSamples,
  produceBatch,
  type ProduceOptions,
  type ScoredBatch,
} from "./rollouts.ts";
import {
  batchReadings,
  type RmUpdateMetrics,
  type StepMetrics,
  stepMetrics,
  type StepReadings,
} from "./step_metrics.ts";

/**
 * Held-out tasks (and verification pairs) per evaluation call: the reward actor scores a call's items as one batch,
 * and 256 tasks with their pairs in one batch took its process to 1.7 GB RSS.
 */
const EVAL_CHUNK = 64;

/** {@link evaluate} over chunks of {@link EVAL_CHUNK} tasks and pairs, one after the other; the same means. */
async function evaluateInChunks(
  produce: ProduceOptions,
  tasks: readonly MathTask[],
  pairs: readonly VerificationPair[],
  versions: { policy: number; rm: number },
): Promise<EvalResult> {
  const parts: { n: number; pairs: number; result: EvalResult }[] = [];
  for (let at = 0; at < tasks.length; at += EVAL_CHUNK) {
    const chunk = tasks.slice(at, at + EVAL_CHUNK);
    const chunkPairs = pairs.slice(at, at + EVAL_CHUNK >= tasks.length ? pairs.length : at + EVAL_CHUNK);
    parts.push({
      n: chunk.length,
      pairs: chunkPairs.length,
      result: await evaluate(produce, chunk, chunkPairs, versions),
    });
  }
  const mean = (key: "accuracy" | "rmReward" | "rmPairAccuracy", weight: "n" | "pairs") => {
    const used = parts.filter((p) => p[weight] > 0);
    const total = used.reduce((a, p) => a + p[weight], 0);
    return total === 0 ? Number.NaN : used.reduce((a, p) => a + p.result[key] * p[weight], 0) / total;
  };
  return {
    accuracy: mean("accuracy", "n"),
    rmReward: mean("rmReward", "n"),
    rmPairAccuracy: mean("rmPairAccuracy", "pairs"),
    examples: parts[0]?.result.examples ?? [],
  };
}

/** Runs a GRPO job to completion (or until stopped) on the context's cluster. */
export async function runRl(ctx: JobContext, config: RunConfig): Promise<void> {
  const data = await loadRunData(config.data, config.eval, config.seed);
  ctx.status.notes.push(...data.notes);
  const roles = await spawnRoles(ctx.cluster, config, ctx.id, { signal: ctx.signal });
  const run = new RlRun(ctx, config, data, roles);
  try {
    await run.run();
  } finally {
    await roles.stop();
    await run.cleanup();
  }
}

class RlRun {
  readonly ctx: JobContext;
  readonly config: RunConfig;
  readonly data: RunData;
  readonly roles: RunRoles;
  readonly produce: ProduceOptions;
  readonly names: { policy: string; rm: string };
  ledger = new SampleLedger();
  readonly attestations = new WeightAttestations();
  readonly weights: PublishedWeights;
  policyVersion = 0;
  rmVersion = 0;
  /** Launched batches by step (async pipeline). */
  readonly pending = new Map<number, Promise<ScoredBatch>>();
  #started = performance.now();
  #trainedSamples = 0;
  #tokens = 0;
  #rmAnswers: Promise<SampledTask[]> | undefined;
  readonly skips: { policy: SkipGuard; rm: SkipGuard };
  /** The RM's update (cooper) and the reward-hacking monitor with its responses. */
  readonly rm: RewardModelSide;
  /** The monitor's alarm at the last step (the `freeze` response skips RM updates while it is on). */

  constructor(ctx: JobContext, config: RunConfig, data: RunData, roles: RunRoles) {
    this.ctx = ctx;
    this.config = config;
    this.data = data;
    this.roles = roles;
    this.names = { policy: `${ctx.id}.policy`, rm: `${ctx.id}.rm` };
    this.produce = {
      rollouts: ctx.cluster.pool(roles.rollouts) as ActorPool<RolloutActor>,
      reward: roles.reward,
      reference: roles.reference,
      policyPrefix: this.names.policy,
      rmPrefix: this.names.rm,
      samplesPerPrompt: config.grpo.samplesPerPrompt,
      maxNewTokens: config.grpo.maxNewTokens,
      temperature: config.grpo.temperature,
      seed: config.seed,
      chunks: config.rollout.count,
    };
    this.weights = new PublishedWeights(ctx.cluster, this.attestations, this.window);
    this.skips = {
      policy: new SkipGuard("policy", config.maxConsecutiveSkips),
      rm: new SkipGuard("reward model", config.maxConsecutiveSkips),
    };
    this.rm = new RewardModelSide(this);
  }

  async run(): Promise<void> {
    const { config, roles } = this;
    const verifyPairs = await verificationPairs(this.data.eval, config.seed);
    await Promise.all([roles.policyLearner.init(), roles.rewardLearner.init()]);
    let first = 0;
    if (this.ctx.resume !== undefined) first = await this.restore(this.ctx.resume);
    await this.publishPolicy();
    await this.publishRm();
    await this.roles.rewardLearner.snapshot(this.rmVersion, this.rm.snapshotsKept);
    // The starting point, so curves begin where every mode begins.
    if (first === 0 && config.eval.interval > 0) this.ctx.metric({ step: 0, ...(await this.evaluate(verifyPairs)) });
    for (let step = first; step < config.steps; step++) {
      if (this.ctx.signal.aborted) {
        await this.checkpoint(step);
        this.ctx.status.state = "stopped";
        return;
      }
      const metrics = await this.rlStep(step);
      const done = step + 1;
      if (isDue(config.eval.interval, done, config.steps)) {
        Object.assign(metrics, await this.evaluate(verifyPairs, { examples: done === config.steps }));
      }
      this.ctx.status.step = done;
      this.ctx.metric({ step: done, ...metrics });
      if (isDue(config.checkpoint.interval, done, config.steps)) await this.checkpoint(done);
    }
    this.ledger.assertBalanced({ settled: true });
    this.ctx.status.state = "finished";
  }

  /** Held-out verifier accuracy, σ(RM) of the held-out answers, and RM pairwise accuracy on verification pairs. */
  async evaluate(
    pairs: readonly VerificationPair[],
    options: { examples?: boolean } = {},
  ): Promise<Record<string, number>> {
    const result = await evaluateInChunks(this.produce, this.data.eval, pairs, {
      policy: this.policyVersion,
      rm: this.rmVersion,
    });
    if (options.examples) {
      const versions = { policyVersion: this.policyVersion, rmVersion: this.rmVersion };
      this.ctx.status.examples = result.examples.map((e) => ({ ...versions, ...e }));
    }
    const out = {
      eval_accuracy: result.accuracy,
      eval_rm_reward: result.rmReward,
      rm_pair_accuracy: result.rmPairAccuracy,
    };
    return { ...out, ...await this.rmOnHeldoutAnswers() };
  }

  /** The current RM on the held-out SFT answers of `eval.rmAnswers` (none without the file). */
  async rmOnHeldoutAnswers(): Promise<Record<string, number>> {
    const path = this.config.eval.rmAnswers;
    if (path === undefined) return {};
    this.#rmAnswers ??= readHeldoutAnswers(path);
    const rm = { blobPrefix: this.names.rm, version: this.rmVersion };
    const scored = await sampleAccuracy(this.roles.reward, await this.#rmAnswers, rm);
    return { rm_heldout_pair_accuracy: scored.rm_sample_pair_accuracy, rm_heldout_accuracy: scored.rm_accuracy };
  }

  /** One step of the algorithm; returns its metrics. */
  async rlStep(step: number): Promise<StepMetrics> {
    const { config } = this;
    const t0 = performance.now();
    let batch = await this.attestedBatch(step);
    const t1 = performance.now();
    const cooper = config.mode === "cooper";
    const order = config.rewardUpdate.order;
    // 1. Cooper: verified (correct response, wrong rewrite) pairs update the RM (before the policy, unless
    //    `policy-first`); `rm-first-rescore` then scores the batch again with the updated RM.
    let rm: RmUpdateMetrics | undefined;
    if (cooper && order !== "policy-first") {
      rm = await this.rm.update(step, batch);
      if (order === "rm-first-rescore" && batch.rmVersion !== this.rmVersion) batch = await this.rescore(batch);
    }
    const t2 = performance.now();
    // 2. Policy rewards: the rule verdict (rule) or σ(RM) / the RM's verdict with no rule term (static-rm, cooper);
    //    `grpo.verdictNoise` (a control, rule mode only) flips rule rewards at random.
    const { rewards: paid, invalid } = computeRewards(
      config.mode,
      batch.verdicts.map((verdict, i) => ({ verdict, rmScore: batch.rmScores[i] })),
      config.grpo.rmReward,
    );
    const rewards = flipRewards(paid, config.grpo.verdictNoise, new Rng(mixSeed(config.seed, step, 11)));
    this.ctx.status.exploits = recordExploit(this.ctx.status.exploits ?? [], batch);
    // 3. GRPO: group-normalised advantages, PPO dual-clip + k3 KL to the reference, one update per epoch.
    const report = await this.updatePolicy(step, batch, rewards);
    const t3 = performance.now();
    if (cooper && order === "policy-first") rm = await this.rm.update(step, batch);
    // 4. Publish the new policy version for the rollout actors (not when every epoch was skipped: nothing changed).
    const publishBytes = await this.settle(batch, report.trained);
    const seen = batchReadings(batch);
    const throughput = this.throughput(seen.tokens);
    // 5. Watch for reward hacking: does the RM that scored these samples agree with the verifier on them?
    const monitor = await this.rm.watch(step, batch.rmVersion, seen);
    this.syncStatus();
    return stepMetrics({
      versions: { policy: this.policyVersion, rm: this.rmVersion, staleness: this.ctx.status.staleness.last },
      rewards,
      invalidRewards: invalid.length,
      batch: seen,
      policy: report,
      throughput,
      marks: [t0, t1, t2, t3, performance.now()],
      publishBytes,
      rolloutMs: batch.ms,
      monitor,
      rm,
    });
  }

  /** Publishes the policy a trained step changed and settles the batch's samples in the ledger; returns the bytes. */
  async settle(batch: ScoredBatch, trained: boolean): Promise<number> {
    const ids = batch.samples.map((s) => s.id);
    if (!trained) {
      this.ledger.skipped(ids);
      return 0;
    }
    this.policyVersion++;
    const bytes = await this.publishPolicy();
    this.ledger.trained(ids);
    this.#trainedSamples += ids.length;
    return bytes;
  }

  /** Counts a batch's response tokens; returns the run's trained samples and tokens so far, and its seconds. */
  throughput(tokens: number): StepReadings["throughput"] {
    this.#tokens += tokens;
    const seconds = (performance.now() - this.#started) / 1000;
    return { trainedSamples: this.#trainedSamples, tokens: this.#tokens, seconds };
  }

  /**
   * The GRPO update (`ppoEpochs` Trainer steps). A step the Trainer skips (non-finite loss or gradients) changed
   * nothing; `trained` is false when every epoch was skipped, and `maxConsecutiveSkips` such steps fail the run.
   */
  async updatePolicy(step: number, batch: ScoredBatch, rewards: number[]) {
    const advantages = groupAdvantages(rewards, batch.samples.map((s) => s.promptId), {
      epsilon: this.config.grpo.epsilon,
      normalizeByStd: this.config.grpo.normalizeByStd,
    });
    const samples = batch.samples.map((s, i) => ({
      promptIds: s.promptIds,
      responseIds: s.responseIds,
      oldLogprobs: s.logprobs,
      refLogprobs: batch.refLogprobs[i]!,
      advantage: advantages[i]!,
    }));
    let skipped = 0;
    let report;
    for (let epoch = 0; epoch < this.config.grpo.ppoEpochs; epoch++) {
      report = await this.roles.policyLearner.update(samples);
      if (report.skipped) skipped++;
    }
    const trained = skipped < this.config.grpo.ppoEpochs;
    this.skips.policy.record(!trained, step + 1, report!);
    return { ...report!, trained, skipped };
  }

  /** The batch's RM scores again, with the current RM version (`rm-first-rescore`). */
  async rescore(batch: ScoredBatch): Promise<ScoredBatch> {
    const scored = await this.roles.reward.score({
      items: batch.samples.map((s) => ({ question: s.question, reference: s.answer, response: s.text })),
      rm: { blobPrefix: this.names.rm, version: this.rmVersion },
    });
    return { ...batch, rmScores: scored.scores, rmVersion: this.rmVersion, rmDigest: scored.rmDigest };
  }

  /** The step's batch: launched ahead (async) or now (sync); regenerated if it is staler than the bound. */
  async scoredBatch(step: number): Promise<ScoredBatch> {
    for (let s = step; s <= step + this.config.maxStaleness && s < this.config.steps; s++) this.launch(s, `s${s}`);
    let batch = await this.pending.get(step)!;
    this.pending.delete(step);
    for (let attempt = 1; isStale(batch.version, this.policyVersion, this.config.maxStaleness); attempt++) {
      this.ledger.droppedStale(batch.samples.map((s) => s.id));
      this.launch(step, `s${step}r${attempt}`);
      batch = await this.pending.get(step)!;
      this.pending.delete(step);
    }
    this.ctx.status.staleness.last = this.policyVersion - batch.version;
    this.ctx.status.staleness.highest = Math.max(this.ctx.status.staleness.highest, this.ctx.status.staleness.last);
    return batch;
  }

  launch(step: number, tag: string): void {
    if (this.pending.has(step)) return;
    const tasks = tasksForStep(this.data.train, step, this.config.grpo.promptsPerStep);
    const promise = produceBatch(
      { ...this.produce, onGenerated: (ids) => this.ledger.generated(ids) },
      step,
      tasks,
      { policy: this.policyVersion, rm: this.rmVersion, tag },
    ).then((batch) => {
      this.ledger.scored(batch.samples.map((s) => s.id));
      this.syncStatus();
      return batch;
    });
    promise.catch(() => {}); // awaited by the step that needs it
    this.pending.set(step, promise);
  }

  /** Publishes the current policy version; returns its size in bytes. */
  async publishPolicy(): Promise<number> {
    const version = this.policyVersion;
    const learner = this.roles.policyLearner;
    // A colocated rollout samples from the learner's live weights: nothing reads a published policy, but the
    // samples carry the live digest, recorded here as the version's.
    if (this.config.rollout.colocate) {
      this.weights.recordLive("policy", version, await learner.liveDigest());
      return 0;
    }
    return await this.weights.publish("policy", this.names.policy, version, (name) => learner.publish(name, version));
  }

  async publishRm(): Promise<void> {
    const version = this.rmVersion;
    const learner = this.roles.rewardLearner;
    // Colocated RM scoring reads the RM learner's live weights: nothing reads a published RM (digest as above).
    if (this.config.reward.colocate) return this.weights.recordLive("rm", version, await learner.liveDigest());
    await this.weights.publish("rm", this.names.rm, version, (name) => learner.publish(name, version));
  }

  /**
   * The step's batch minus the samples whose weight digests are not the published ones of the versions they claim:
   * those are refused in the ledger, never trained on. A batch with nothing left is produced again (twice at most).
   */
  async attestedBatch(step: number): Promise<ScoredBatch> {
    for (let attempt = 1;; attempt++) {
      const batch = await this.scoredBatch(step);
      const claims = batch.samples.map((s) => ({
        id: s.id,
        policyVersion: s.version,
        policyDigest: s.policyDigest,
        rmVersion: batch.rmVersion,
        rmDigest: batch.rmDigest,
      }));
      const refused = new Set(this.attestations.refuse(claims).map((r) => r.id));
      this.ctx.status.attestation = this.attestations.snapshot();
      if (refused.size === 0) return batch;
      this.ledger.refused(refused);
      const keep = batch.samples.map((s) => !refused.has(s.id));
      if (keep.some(Boolean)) return keepSamples(batch, keep);
      if (attempt === 3) {
        throw new AttestationError(`Step ${step}: every sample of 3 batches was refused (${claims.length} each)`);
      }
      this.launch(step, `s${step}a${attempt}`);
    }
  }

  /** How many versions behind the newest a launched batch may still fetch: the staleness bound plus a margin. */
  get window(): number {
    return this.config.maxStaleness + 2;
  }

  syncStatus(): void {
    Object.assign(this.ctx.status, {
      policyVersion: this.policyVersion,
      rmVersion: this.rmVersion,
      accounting: this.ledger.snapshot(),
    });
    this.ctx.changed();
  }

  /** Deletes the weight versions this run left in the Object Store (checkpoints keep what a resume needs). */
  async cleanup(): Promise<void> {
    await this.weights.retireRecent(this.names.policy, this.policyVersion);
    await this.weights.retireRecent(this.names.rm, this.rmVersion);
  }

  /** Writes learner states and the driver state (with batches already produced for later steps). */
  async checkpoint(nextStep: number): Promise<void> {
    const pending: ScoredBatch[] = [];
    for (const [, promise] of this.pending) pending.push(await promise);
    const state: DriverState = {
      runId: this.ctx.id,
      nextStep,
      policyVersion: this.policyVersion,
      rmVersion: this.rmVersion,
      ledger: this.ledger.toState(),
      pending,
      trainedSamples: this.#trainedSamples,
      tokens: this.#tokens,
      monitor: this.rm.monitor.toState(),
      replay: this.rm.replay,
    };
    const dir = `${this.config.checkpoint.dir}/${this.ctx.id}/step-${nextStep}`;
    await saveCheckpoint(dir, this.roles, state);
    this.ctx.status.checkpoint = dir;
    this.ctx.changed();
  }

  /** Loads a checkpoint; returns the step to continue from. */
  async restore(dir: string): Promise<number> {
    const { dir: from, state, skipped } = await openCheckpoint(dir);
    if (from !== dir) this.ctx.status.notes.push(`Resumed from ${from}: ${skipped.join("; ")}`);
    await Promise.all([
      this.roles.policyLearner.load(`${from}/policy`),
      this.roles.rewardLearner.load(`${from}/reward_model`),
    ]);
    this.ledger = SampleLedger.fromState(state.ledger);
    this.policyVersion = state.policyVersion;
    this.rmVersion = state.rmVersion;
    this.#trainedSamples = state.trainedSamples;
    this.#tokens = state.tokens;
    if (state.monitor !== undefined) this.rm.monitor.restore(state.monitor);
    this.rm.replay.splice(0, this.rm.replay.length, ...(state.replay ?? []));
    for (const batch of state.pending) this.pending.set(batch.step, Promise.resolve(batch));
    this.syncStatus();
    return state.nextStep;
  }
}
