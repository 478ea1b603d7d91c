/**
 * The policy warm-up (SFT on worked solutions) as a run on the cluster, and what both warm-ups share: sampling the
 * policy's answers for the RM's labelled set, the step loop, saving the model where the RL configs pick it up
 * (`<checkpoint.dir>/policy` or `<checkpoint.dir>/reward_model`). RM pretraining itself is `rm_pretrain.ts`.
 *
 * The RM's labelled set is the warmed-up policy's own answers plus worked solutions, verified-wrong rewrites of
 * every correct completion and bare `#### n` answers, all labelled by the rule verifier ("hybrid annotation" in the
 * paper adds an LLM judge; Coop has none). It covers what the SFT policy writes; what a policy writes after drifting
 * away from that is where a static RM can be exploited.
 */
import { type ActorHandle } from "../../actors/mod.ts";
import { weightsBlobName } from "../../actors/weights/mod.ts";
import { PolicyLearner, RolloutActor } from "../../actors/roles/mod.ts";
import { configOf, publishWeights } from "../../actors/roles/mod.ts";
import { loadWeights } from "../../engine/models/mod.ts";
import {
  accuracyOf,
  type MathTask,
  type RmPretrainConfig,
  type SampledTask,
  type SftConfig,
  verify,
} from "../../rl/mod.ts";
import { ConfigError, mixSeed } from "../../shared/mod.ts";
import { absolutePath } from "./checkpoint.ts";
import { writeCheckpoint } from "./checkpoint_files.ts";
import { loadRunData, tasksForStep } from "./data.ts";
import { isDue, type JobContext } from "./job.ts";
import { checkpointSpec, LEARNER_FAULT_TOLERANCE, LEARNER_GRANTS, modelSpec, ROLE_FAULT_TOLERANCE } from "./roles.ts";

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
 * The configured policy's answers: `samples` per training task at each temperature, and `evalSamples` per held-out
 * task at temperature 1 (as GRPO samples them). Without a policy: no answers (the set is references and rewrites).
 */
export async function samplePolicy(
  ctx: JobContext,
  config: RmPretrainConfig,
  { train, held, valid }: { train: readonly MathTask[]; held: readonly MathTask[]; valid: readonly MathTask[] },
  handles: ActorHandle<unknown>[],
): Promise<{ train: SampledTask[]; eval: SampledTask[]; valid: SampledTask[] }> {
  const source = config.policy;
  if (source === undefined) return { train: train.map((task) => ({ task, samples: [] })), eval: [], valid: [] };
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
  const validTexts = valid.length === 0 ? [] : await sample(valid, config.evalSamples, 1, mixSeed(config.seed, 29));
  await blobs.delete(`${ctx.id}.sampler.v0`).catch(() => {});
  // Done with it: the sampler holds ~1 GB that RM training does not need.
  await ctx.cluster.kill(rollout, { graceful: false }).catch(() => {});
  handles.splice(handles.indexOf(rollout as ActorHandle<unknown>), 1);
  const sampled = (tasks: readonly MathTask[], texts: string[][]) =>
    tasks.map((task, i) => ({ task, samples: texts[i]! }));
  return { train: trainSampled, eval: sampled(held, evalTexts), valid: sampled(valid, validTexts) };
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

/**
 * Saves the trained model like the other checkpoints: into a staging dir, sealed with a SHA-256 manifest and renamed
 * into place, so a crash never leaves a half-written model under `dir` and later damage fails verification.
 */
export async function saveModel(ctx: JobContext, learner: ActorHandle<{ save(dir: string): void }>, dir: string) {
  await writeCheckpoint(await absolutePath(dir), (staging) => learner.save(staging));
  ctx.status.checkpoint = dir;
  ctx.status.state = ctx.signal.aborted ? "stopped" : "finished";
}

export function killAll(ctx: JobContext, handles: readonly ActorHandle<unknown>[]): Promise<void> {
  return Promise.all(handles.map((h) => ctx.cluster.kill(h, { graceful: false }).catch(() => {}))).then(() => {});
}

/** Spawn options for a warm-up's actors: named after the job, stateless-role fault tolerance. */
export function roleOptions(ctx: JobContext, resources: Record<string, number> | undefined) {
  return (role: string) => ({ name: `${ctx.id}-${role}`, resources, signal: ctx.signal, ...ROLE_FAULT_TOLERANCE });
}

/** A warm-up config's optimizer settings as a learner takes them (one micro-batch per step). */
export function optimOf(config: { lr: number; gradClip: number; weightDecay: number; batchSize: number }) {
  return {
    lr: config.lr,
    gradClip: config.gradClip,
    weightDecay: config.weightDecay,
    microBatchSize: config.batchSize,
  };
}
