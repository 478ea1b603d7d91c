/**
 * VerifyRM-style RM pretraining as a run on the cluster: BCE on a verifier-labelled set built from the policy's own
 * answers (several temperatures), reference solutions, verified-wrong rewrites of every correct completion and bare
 * answers (`buildLabelledSet`), in class-balanced batches.
 *
 * The saved RM is chosen on a validation split (`validation`), never on the held-out answers the job reports: the
 * same recipe (1000 steps at lr 1e-3) ended at 95% or at 75% held-out pairwise accuracy on one seed depending only
 * on the engine's float order (docs/rl.md), so which run learns to compare the two final answers is partly luck.
 * Restarts picked on validation, and the best validated version of the winner, make the outcome a measurement
 * instead of a draw.
 */
import { type ActorHandle } from "../../actors/mod.ts";
import { weightsBlobName } from "../../actors/weights/mod.ts";
import { RewardActor, RewardLearner } from "../../actors/roles/mod.ts";
import {
  BalancedSampler,
  buildLabelledSet,
  formatRmInput,
  type LabelledCompletion,
  type MathTask,
  type RmPretrainConfig,
  RuleNegativeSynthesizer,
  type SampledTask,
} from "../../rl/mod.ts";
import { ConfigError, mixSeed, Rng } from "../../shared/mod.ts";
import { loadRunData, verificationPairs } from "./data.ts";
import { isDue, type JobContext } from "./job.ts";
import { LEARNER_FAULT_TOLERANCE, LEARNER_GRANTS, modelSpec } from "./roles.ts";
import { verificationAccuracy } from "./rollouts.ts";
import { sampleAccuracy, writeHeldoutAnswers } from "./heldout_answers.ts";
import { killAll, optimOf, roleOptions, samplePolicy, saveModel } from "./warmup.ts";

/** One RM in training: its learner, its weights' blob prefix and published version, its batch order. */
interface Candidate {
  restart: number;
  learner: ActorHandle<RewardLearner>;
  prefix: string;
  steps: number;
  next: (step: number) => LabelledCompletion[];
  /** Its best validation score so far (the lower of pairwise and σ > ½ accuracy) and the step it was reached at. */
  best: { score: number; step: number };
}

/**
 * Reports held-out accuracy on the policy's answers to the eval tasks (`rm_sample_pair_accuracy`: (correct, wrong)
 * answers of one prompt ordered right; `rm_accuracy`: σ > ½ against the verdict) and on (solution, rewrite)
 * verification pairs (`rm_pair_accuracy`); with a validation split, `rm_valid_*` the same on it.
 */
export async function runRmPretrain(ctx: JobContext, config: RmPretrainConfig): Promise<void> {
  const data = await loadRunData(config.data, config.eval, config.seed);
  ctx.status.notes.push(...data.notes);
  const pairs = await verificationPairs(data.eval, config.seed);
  const labelled = data.train.slice(0, config.labelledTasks);
  const validTasks = validationTasks(data.train, config);
  ctx.status.steps = plannedRmSteps(config);
  const handles: ActorHandle<unknown>[] = [];
  try {
    const sampled = await samplePolicy(ctx, config, { train: labelled, held: data.eval, valid: validTasks }, handles);
    const held = sampled.eval;
    const valid = sampled.valid;
    // The RL runs score their RM on the same answers at every evaluation (`eval.rmAnswers`).
    if (held.length > 0) await writeHeldoutAnswers(`${config.checkpoint.dir}/heldout_answers.json`, held);
    const items = await buildLabelledSet(sampled.train, {
      synthesizer: new RuleNegativeSynthesizer(),
      seed: mixSeed(config.seed, 3),
      rewritesPerPositive: config.rewritesPerPositive,
    });
    const positives = items.filter((i) => i.label === 1).length;
    ctx.status.notes.push(`labelled set: ${items.length} completions, ${positives} verified correct`);
    const scorer = await ctx.cluster.spawn(RewardActor, {
      ...roleOptions(ctx, config.learner.resources)("eval"),
      resources: { cpu: 0.5 },
    }, await modelSpec(config.rewardModel, { classifier: true, seed: config.seed }));
    handles.push(scorer as ActorHandle<unknown>);
    const job = new RmJob(ctx, config, { items, scorer, handles, valid });
    const best = await job.pick();
    await job.train(best, config.steps);
    await job.restoreBest(best);
    ctx.metric({ step: job.done, ...await job.heldOut(best, { held, pairs }) });
    await saveModel(ctx, best.learner, `${config.checkpoint.dir}/reward_model`);
  } finally {
    await killAll(ctx, handles);
  }
}

/** RM steps the job trains in all: the restarts' steps, then the winner's remaining ones. */
export function plannedRmSteps(config: Pick<RmPretrainConfig, "steps" | "validation">): number {
  const { tasks, restarts, restartSteps } = config.validation;
  return tasks === 0 || restarts === 1
    ? config.steps
    : config.steps + (restarts - 1) * Math.min(restartSteps, config.steps);
}

/** The validation tasks: the next `validation.tasks` training tasks after the labelled ones, minus repeats. */
function validationTasks(train: readonly MathTask[], config: RmPretrainConfig): MathTask[] {
  const wanted = config.validation.tasks;
  if (wanted === 0) return [];
  const seen = new Set(train.slice(0, config.labelledTasks).map((t) => t.question));
  const out = train.slice(config.labelledTasks).filter((t) => !seen.has(t.question)).slice(0, wanted);
  if (out.length < wanted) {
    throw new ConfigError(
      `Invalid rm-pretrain config: validation.tasks ${wanted} needs that many training tasks after labelledTasks ` +
        `${config.labelledTasks}, data has ${out.length} more`,
    );
  }
  return out;
}

/** Restarts, training with validation-based selection, and the held-out check, over one scorer actor. */
class RmJob {
  done = 0;
  readonly #ctx: JobContext;
  readonly #config: RmPretrainConfig;
  readonly #items: LabelledCompletion[];
  readonly #scorer: ActorHandle<RewardActor>;
  readonly #handles: ActorHandle<unknown>[];
  readonly #valid: readonly SampledTask[];

  constructor(
    ctx: JobContext,
    config: RmPretrainConfig,
    parts: {
      items: LabelledCompletion[];
      scorer: ActorHandle<RewardActor>;
      handles: ActorHandle<unknown>[];
      valid: readonly SampledTask[];
    },
  ) {
    this.#ctx = ctx;
    this.#config = config;
    this.#items = parts.items;
    this.#scorer = parts.scorer;
    this.#handles = parts.handles;
    this.#valid = parts.valid;
  }

  /** With restarts: trains each `restartSteps` steps and keeps the best on validation; else the one RM. */
  async pick(): Promise<Candidate> {
    const { restarts, restartSteps } = this.#config.validation;
    if (restarts === 1 || this.#valid.length === 0) return await this.#spawn(0);
    let best: { candidate: Candidate; score: number } | undefined;
    for (let r = 0; r < restarts && !this.#ctx.signal.aborted; r++) {
      const candidate = await this.#spawn(r);
      await this.train(candidate, Math.min(restartSteps, this.#config.steps));
      const { score, step } = candidate.best;
      this.#ctx.status.notes.push(`RM restart ${r}: best validation ${(score * 100).toFixed(1)}% (step ${step})`);
      if (best === undefined || score > best.score) {
        if (best !== undefined) await this.#kill(best.candidate);
        best = { candidate, score };
      } else await this.#kill(candidate);
    }
    // The winner goes on from its last step, keeping its best-so-far snapshot.
    return best!.candidate;
  }

  /** Back to the candidate's best validated weights (a no-op without validation or when the last step is best). */
  async restoreBest(candidate: Candidate): Promise<void> {
    const { step } = candidate.best;
    if (step === 0 || step === candidate.steps) return;
    if (!await candidate.learner.rollback(step)) throw new ConfigError(`RM snapshot of step ${step} was not kept`);
    this.#ctx.status.notes.push(`RM: kept step ${step} of ${candidate.steps} (best on validation)`);
  }

  /** Trains `candidate` up to `steps` steps, validating every `validation.interval` and after the last. */
  async train(candidate: Candidate, steps: number): Promise<void> {
    const interval = this.#config.validation.interval;
    while (candidate.steps < steps && !this.#ctx.signal.aborted) {
      const batch = candidate.next(candidate.steps).map((it) => ({
        input: formatRmInput(it.question, it.reference, it.completion),
        label: it.label,
      }));
      const report = await candidate.learner.updateLabelled(batch, lrAt(this.#config, candidate.steps));
      candidate.steps++;
      this.done++;
      const point: Record<string, number> = {
        loss: report.loss,
        accuracy: report.metrics.accuracy ?? Number.NaN,
        rm_restart: candidate.restart,
      };
      if (this.#valid.length > 0 && isDue(interval, candidate.steps, steps)) {
        Object.assign(point, await this.#validate(candidate));
      }
      this.#ctx.status.step = this.done;
      this.#ctx.metric({ step: this.done, ...point });
    }
  }

  /** The reported held-out numbers of the candidate's current weights. */
  async heldOut(
    candidate: Candidate,
    sets: { held: readonly SampledTask[]; pairs: Awaited<ReturnType<typeof verificationPairs>> },
  ): Promise<Record<string, number>> {
    const at = await this.#publish(candidate, this.done + 1);
    const held = sets.held.length === 0 ? {} : await sampleAccuracy(this.#scorer, sets.held, at);
    return { rm_pair_accuracy: await verificationAccuracy(this.#scorer, sets.pairs, at), ...held };
  }

  async #validate(candidate: Candidate): Promise<Record<string, number>> {
    const scored = await sampleAccuracy(this.#scorer, this.#valid, await this.#publish(candidate, this.done));
    const score = Math.min(scored.rm_sample_pair_accuracy!, scored.rm_accuracy!);
    if (score > candidate.best.score) {
      candidate.best = { score, step: candidate.steps };
      await candidate.learner.snapshot(candidate.steps, 1);
    }
    return {
      rm_valid_pair_accuracy: scored.rm_sample_pair_accuracy!,
      rm_valid_accuracy: scored.rm_accuracy!,
      rm_valid_best: candidate.best.score,
    };
  }

  async #publish(candidate: Candidate, version: number) {
    await candidate.learner.publish(weightsBlobName(candidate.prefix, version), version);
    return { blobPrefix: candidate.prefix, version };
  }

  async #spawn(restart: number): Promise<Candidate> {
    const config = this.#config;
    // Restart 0 is the recipe without restarts (same initialisation and batch order).
    const seed = restart === 0 ? config.seed : mixSeed(config.seed, 19, restart);
    const rewardModel = await modelSpec(config.rewardModel, {
      classifier: true,
      seed,
      saveDtype: config.checkpoint.dtype,
    });
    const learner = await this.#ctx.cluster.spawn(RewardLearner, {
      ...roleOptions(this.#ctx, config.learner.resources)(`learner${restart}`),
      ...LEARNER_FAULT_TOLERANCE,
      ...LEARNER_GRANTS,
    }, { rewardModel, objective: "bce", optim: optimOf(config) });
    this.#handles.push(learner as ActorHandle<unknown>);
    const prefix = `${this.#ctx.id}.rm${restart}`;
    const next = batchSource(this.#items, config, restart);
    return { restart, learner, prefix, steps: 0, next, best: { score: -1, step: 0 } };
  }

  async #kill(candidate: Candidate): Promise<void> {
    const handle = candidate.learner as ActorHandle<unknown>;
    this.#handles.splice(this.#handles.indexOf(handle), 1);
    await this.#ctx.cluster.kill(handle, { graceful: false }).catch(() => {});
  }
}

/** The learning rate of step `step` (0-based) under `lrSchedule`. */
export function lrAt(config: Pick<RmPretrainConfig, "lr" | "lrSchedule" | "steps">, step: number): number {
  if (config.lrSchedule === "constant") return config.lr;
  const floor = config.lr / 10;
  return floor + (config.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * Math.min(step / config.steps, 1)));
}

/** Batches of the labelled set: class-balanced, or plain seeded reshuffles (another order per restart). */
function batchSource(
  items: LabelledCompletion[],
  config: RmPretrainConfig,
  restart: number,
): (step: number) => LabelledCompletion[] {
  const seed = restart === 0 ? config.seed : mixSeed(config.seed, 23, restart);
  if (config.balanced) {
    const sampler = new BalancedSampler(items, mixSeed(seed, 5));
    return () => sampler.next(config.batchSize);
  }
  let order: LabelledCompletion[] = [];
  return (step) => {
    if (order.length < config.batchSize) order = [...order, ...new Rng(mixSeed(seed, step)).shuffle(items)];
    return order.splice(0, config.batchSize);
  };
}
