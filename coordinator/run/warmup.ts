/**
 * The two warm-up jobs, as runs on the cluster: policy SFT on worked solutions, and VerifyRM-style RM pretraining
 * (BCE on (question, reference, completion, label) triples). Each spawns one learner (plus one actor for its
 * held-out check), trains, and saves the model as `<checkpoint.dir>/policy` or `<checkpoint.dir>/reward_model`,
 * which is where the RL configs pick them up.
 *
 * The RM's labelled set is the warmed-up policy's own answers plus worked solutions, verified-wrong rewrites of
 * every correct completion and bare `#### n` answers, all labelled by the rule verifier ("hybrid annotation" in the
 * paper adds an LLM judge; Coop has none). It covers what the SFT policy writes; what a policy writes after drifting
 * away from that is where a static RM can be exploited.
 */
import { type ActorHandle } from "../../actors/mod.ts";
import { weightsBlobName } from "../../actors/weights/mod.ts";
import { PolicyLearner, RewardActor, RewardLearner, RolloutActor } from "../../actors/roles/mod.ts";
import { configOf, publishWeights } from "../../actors/roles/mod.ts";
import { loadWeights } from "../../engine/models/mod.ts";
import {
  accuracyOf,
  BalancedSampler,
  buildLabelledSet,
  formatRmInput,
  type LabelledCompletion,
  type MathTask,
  rmAgreement,
  type RmPretrainConfig,
  RuleNegativeSynthesizer,
  type SampledTask,
  type SftConfig,
  type Verdict,
  verify,
} from "../../rl/mod.ts";
import { ConfigError, mixSeed, Rng } from "../../shared/mod.ts";
import { absolutePath } from "./checkpoint.ts";
import { commitCheckpoint, stagingDir } from "./checkpoint_files.ts";
import { loadRunData, tasksForStep, verificationPairs } from "./data.ts";
import { isDue, type JobContext } from "./job.ts";
import { checkpointSpec, LEARNER_FAULT_TOLERANCE, LEARNER_GRANTS, modelSpec, ROLE_FAULT_TOLERANCE } from "./roles.ts";
import { verificationAccuracy } from "./rollouts.ts";

/** Policy warm-up: next-token loss on the responses (worked solutions) of the training tasks. */
export async function runSft(ctx: JobContext, config: SftConfig): Promise<void> {
  const data = await loadRunData(config.data, config.eval, config.seed);
  ctx.status.notes.push(...data.notes);
  const train = data.train.filter((t) => t.solution !== undefined);
  if (train.length === 0) throw new ConfigError("Cannot run SFT: no training task has a worked solution");
  const policy = await modelSpec(config.policy, {
    classifier: false,
    seed: config.seed,
    saveDtype: config.checkpoint.dtype,
  });
  const opts = roleOptions(ctx, config.learner.resources);
  const learner = await ctx.cluster.spawn(PolicyLearner, {
    ...opts("learner"),
    ...LEARNER_FAULT_TOLERANCE,
    ...LEARNER_GRANTS,
  }, {
    policy,
    objective: "sft",
    optim: optimOf(config),
  });
  const handles: ActorHandle<unknown>[] = [learner as ActorHandle<unknown>];
  try {
    const rollout = await ctx.cluster.spawn(RolloutActor, { ...opts("eval"), resources: { cpu: 0.5 } }, policy);
    handles.push(rollout as ActorHandle<unknown>);
    const evaluate = async (version: number) => {
      await learner.publish(weightsBlobName(`${ctx.id}.policy`, version), version);
      const samples = await rollout.rollout({
        version,
        blobPrefix: `${ctx.id}.policy`,
        prompts: data.eval.map((t, i) => ({ id: `eval.${i}`, question: t.question, answer: t.answer })),
        samples: 1,
        maxNewTokens: Math.max(...data.eval.map((t) => (t.solution ?? t.answer).length)) + 4,
        temperature: 0,
        seed: 0,
      });
      return accuracyOf(samples.map((s) => verify(s.text, s.answer).verdict)).accuracy;
    };
    await trainSteps(ctx, config, {
      step: async (step) => {
        const report = await learner.sftStep(
          tasksForStep(train, step, config.batchSize).map((t) => ({
            question: t.question,
            response: t.solution!,
          })),
        );
        return { loss: report.loss, grad_norm: report.gradNorm };
      },
      evaluate: async (version) => ({ eval_accuracy: await evaluate(version) }),
    });
    await saveModel(ctx, learner, `${config.checkpoint.dir}/policy`);
  } finally {
    await killAll(ctx, handles);
  }
}

/**
 * VerifyRM-style pretraining: BCE on a verifier-labelled set built from the policy's own answers (several
 * temperatures), reference solutions, verified-wrong rewrites of every correct completion and bare answers
 * (`buildLabelledSet`), in class-balanced batches. Reports held-out accuracy on the policy's answers to the eval
 * tasks (`rm_sample_pair_accuracy`: (correct, wrong) answers of one prompt ordered right; `rm_accuracy`: σ > ½
 * against the verdict) and on (solution, rewrite) verification pairs (`rm_pair_accuracy`).
 */
export async function runRmPretrain(ctx: JobContext, config: RmPretrainConfig): Promise<void> {
  const data = await loadRunData(config.data, config.eval, config.seed);
  ctx.status.notes.push(...data.notes);
  const pairs = await verificationPairs(data.eval, config.seed);
  const rm = await modelSpec(config.rewardModel, {
    classifier: true,
    seed: config.seed,
    saveDtype: config.checkpoint.dtype,
  });
  const opts = roleOptions(ctx, config.learner.resources);
  const handles: ActorHandle<unknown>[] = [];
  try {
    const sampled = await samplePolicy(ctx, config, data.train.slice(0, config.labelledTasks), data.eval, handles);
    const items = await buildLabelledSet(sampled.train, {
      synthesizer: new RuleNegativeSynthesizer(),
      seed: mixSeed(config.seed, 3),
      rewritesPerPositive: config.rewritesPerPositive,
    });
    const positives = items.filter((i) => i.label === 1).length;
    ctx.status.notes.push(`labelled set: ${items.length} completions, ${positives} verified correct`);
    const learner = await ctx.cluster.spawn(RewardLearner, {
      ...opts("learner"),
      ...LEARNER_FAULT_TOLERANCE,
      ...LEARNER_GRANTS,
    }, {
      rewardModel: rm,
      objective: "bce",
      optim: optimOf(config),
    });
    handles.push(learner as ActorHandle<unknown>);
    const scorer = await ctx.cluster.spawn(RewardActor, { ...opts("eval"), resources: { cpu: 0.5 } }, rm);
    handles.push(scorer as ActorHandle<unknown>);
    const evaluate = async (version: number) => {
      await learner.publish(weightsBlobName(`${ctx.id}.rm`, version), version);
      const at = { blobPrefix: `${ctx.id}.rm`, version };
      const held = sampled.eval.length === 0 ? {} : await sampleAccuracy(scorer, sampled.eval, at);
      return { rm_pair_accuracy: await verificationAccuracy(scorer, pairs, at), ...held };
    };
    const next = batchSource(items, config);
    await trainSteps(ctx, config, {
      step: async (step) => {
        const batch = next(step).map((it) => ({
          input: formatRmInput(it.question, it.reference, it.completion),
          label: it.label,
        }));
        const report = await learner.updateLabelled(batch);
        return { loss: report.loss, accuracy: report.metrics.accuracy ?? Number.NaN };
      },
      evaluate,
    });
    await saveModel(ctx, learner, `${config.checkpoint.dir}/reward_model`);
  } finally {
    await killAll(ctx, handles);
  }
}

/** Batches of the labelled set: class-balanced, or plain seeded reshuffles. */
function batchSource(items: LabelledCompletion[], config: RmPretrainConfig): (step: number) => LabelledCompletion[] {
  if (config.balanced) {
    const sampler = new BalancedSampler(items, mixSeed(config.seed, 5));
    return () => sampler.next(config.batchSize);
  }
  let order: LabelledCompletion[] = [];
  return (step) => {
    if (order.length < config.batchSize) order = [...order, ...new Rng(mixSeed(config.seed, step)).shuffle(items)];
    return order.splice(0, config.batchSize);
  };
}

/**
 * The configured policy's answers: `samples` per training task at each temperature, and `evalSamples` per held-out
 * task at temperature 1 (as GRPO samples them). Without a policy: no answers (the set is references and rewrites).
 */
async function samplePolicy(
  ctx: JobContext,
  config: RmPretrainConfig,
  train: readonly MathTask[],
  held: readonly MathTask[],
  handles: ActorHandle<unknown>[],
): Promise<{ train: SampledTask[]; eval: SampledTask[] }> {
  const source = config.policy;
  if (source === undefined) return { train: train.map((task) => ({ task, samples: [] })), eval: [] };
  const spec = await checkpointSpec(source.checkpoint, source.tokenizer);
  const blobs = await ctx.cluster.transport.blobs(ctx.cluster.subjects.blobBucket);
  const weights = await loadWeights(spec.weights.kind === "checkpoint" ? spec.weights.dir : "", configOf(spec));
  await publishWeights(blobs, `${ctx.id}.sampler.v0`, weights, 0);
  const rollout = await ctx.cluster.spawn(
    RolloutActor,
    { ...roleOptions(ctx, undefined)("sampler"), resources: { cpu: 1 } },
    spec,
  );
  handles.push(rollout as ActorHandle<unknown>);
  const sample = async (tasks: readonly MathTask[], n: number, temperature: number, seed: number) => {
    const out: string[][] = [];
    for (let i = 0; i < tasks.length; i += 128) {
      const chunk = tasks.slice(i, i + 128);
      const samples = await rollout.rollout({
        version: 0,
        blobPrefix: `${ctx.id}.sampler`,
        prompts: chunk.map((t, j) => ({ id: `s${i + j}`, question: t.question, answer: t.answer })),
        samples: n,
        maxNewTokens: source.maxNewTokens,
        temperature,
        seed: mixSeed(seed, i),
      });
      for (let j = 0; j < chunk.length; j++) out.push(samples.slice(j * n, (j + 1) * n).map((s) => s.text));
    }
    return out;
  };
  const trainSampled = train.map((task) => ({ task, samples: [] as string[] }));
  for (const [k, temperature] of source.temperatures.entries()) {
    const texts = await sample(train, source.samples, temperature, mixSeed(config.seed, 11, k));
    texts.forEach((t, i) => trainSampled[i]!.samples.push(...t));
  }
  const evalTexts = await sample(held, config.evalSamples, 1, mixSeed(config.seed, 13));
  await blobs.delete(`${ctx.id}.sampler.v0`).catch(() => {});
  // Done with it: the sampler holds ~1 GB that RM training does not need.
  await ctx.cluster.kill(rollout, { graceful: false }).catch(() => {});
  handles.splice(handles.indexOf(rollout as ActorHandle<unknown>), 1);
  return { train: trainSampled, eval: held.map((task, i) => ({ task, samples: evalTexts[i]! })) };
}

/** Held-out answers per scoring call of the RM's held-out check. */
const SCORE_CHUNK = 128;

/** The RM against the verifier on held-out policy answers: within-prompt pairwise and σ > ½ accuracy. */
async function sampleAccuracy(
  scorer: ActorHandle<RewardActor>,
  held: readonly SampledTask[],
  rm: { blobPrefix: string; version: number },
): Promise<Record<string, number>> {
  const items = held.flatMap(({ task, samples }) =>
    samples.map((response) => ({ question: task.question, reference: task.answer, response }))
  );
  const groups = held.flatMap(({ samples }, g) => samples.map(() => String(g)));
  // In chunks: the scorer runs a call's items as one batch, and 768 answers at once took its process to 2 GB.
  const scores: number[] = [];
  const verdicts: Verdict[] = [];
  for (let at = 0; at < items.length; at += SCORE_CHUNK) {
    const scored = await scorer.score({ items: items.slice(at, at + SCORE_CHUNK), rm });
    scores.push(...scored.scores);
    verdicts.push(...scored.verdicts);
  }
  const agreement = rmAgreement(scores, verdicts, groups);
  return {
    rm_sample_pair_accuracy: agreement.rankAccuracy,
    rm_accuracy: agreement.accuracy,
    rm_sample_pairs: agreement.rankPairs,
  };
}

/**
 * The warm-ups' loop: one learner step per step, the held-out check every `eval.interval` steps and after the
 * last; stops early (state `stopped`) when the job is asked to stop.
 */
async function trainSteps(
  ctx: JobContext,
  config: { steps: number; eval: { interval: number } },
  run: {
    step(step: number): Promise<Record<string, number>>;
    evaluate(version: number): Promise<Record<string, number>>;
  },
): Promise<void> {
  for (let step = 0; step < config.steps && !ctx.signal.aborted; step++) {
    const point = await run.step(step);
    const done = step + 1;
    if (isDue(config.eval.interval, done, config.steps)) Object.assign(point, await run.evaluate(done));
    ctx.status.step = done;
    ctx.metric({ step: done, ...point });
  }
}

/** Saves the warm-up's model where the RL configs pick it up, and ends the job. */
/**
 * Saves the trained model like the other checkpoints: into a staging dir, sealed with a SHA-256 manifest and renamed
 * into place, so a crash never leaves a half-written model under `dir` and later damage fails verification.
 */
async function saveModel(ctx: JobContext, learner: ActorHandle<{ save(dir: string): void }>, dir: string) {
  const absolute = await absolutePath(dir);
  const staging = await stagingDir(absolute);
  try {
    await learner.save(staging);
    await commitCheckpoint(staging, absolute);
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
  ctx.status.checkpoint = dir;
  ctx.status.state = ctx.signal.aborted ? "stopped" : "finished";
}

function killAll(ctx: JobContext, handles: readonly ActorHandle<unknown>[]): Promise<void> {
  return Promise.all(handles.map((h) => ctx.cluster.kill(h, { graceful: false }).catch(() => {}))).then(() => {});
}

/** Spawn options for a warm-up's actors: named after the job, stateless-role fault tolerance. */
function roleOptions(ctx: JobContext, resources: Record<string, number> | undefined) {
  return (role: string) => ({ name: `${ctx.id}-${role}`, resources, signal: ctx.signal, ...ROLE_FAULT_TOLERANCE });
}

/** A warm-up config's optimizer settings as a learner takes them (one micro-batch per step). */
function optimOf(config: { lr: number; gradClip: number; weightDecay: number; batchSize: number }) {
  return {
    lr: config.lr,
    gradClip: config.gradClip,
    weightDecay: config.weightDecay,
    microBatchSize: config.batchSize,
  };
}
