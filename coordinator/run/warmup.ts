/**
 * The two warm-up jobs, as runs on the cluster: policy SFT on worked solutions, and VerifyRM-style RM pretraining
 * (BCE on (question, reference, completion, label) triples). Each spawns one learner (plus one actor for its
 * held-out check), trains, and saves the model as `<checkpoint.dir>/policy` or `<checkpoint.dir>/reward_model`,
 * which is where the RL configs pick them up.
 *
 * The RM's labelled set is deliberately small and narrow: worked solutions, verified wrong rewrites of them, and
 * bare `#### n` answers, labelled by the rule verifier ("hybrid annotation" in the paper adds an LLM judge; Coop has
 * none). Anything a policy writes outside that distribution is where a static RM can be exploited.
 */
import { type ActorHandle } from "../../actors/handle.ts";
import { PolicyLearner, RewardActor, RewardLearner, RolloutActor } from "../../actors/roles/mod.ts";
import {
  accuracyOf,
  formatRmInput,
  generateTasks,
  mixSeed,
  type RmPretrainConfig,
  Rng,
  RuleNegativeSynthesizer,
  type SftConfig,
  verify,
} from "../../rl/mod.ts";
import { ConfigError } from "../../shared/errors.ts";
import { absolutePath } from "./checkpoint.ts";
import { loadRunData, tasksForStep, verificationPairs } from "./data.ts";
import { isDue, type JobContext } from "./job.ts";
import { LEARNER_FAULT_TOLERANCE, modelSpec, ROLE_FAULT_TOLERANCE } from "./roles.ts";
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
  const learner = await ctx.cluster.spawn(PolicyLearner, { ...opts("learner"), ...LEARNER_FAULT_TOLERANCE }, {
    policy,
    objective: "sft",
    optim: optimOf(config),
  });
  const handles: ActorHandle<unknown>[] = [learner as ActorHandle<unknown>];
  try {
    const rollout = await ctx.cluster.spawn(RolloutActor, { ...opts("eval"), resources: { cpu: 0.5 } }, policy);
    handles.push(rollout as ActorHandle<unknown>);
    const evaluate = async (version: number) => {
      await learner.publish(`${ctx.id}.policy.v${version}`, version);
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

/** One labelled RM example. */
interface Labelled {
  input: string;
  label: number;
}

/** The small verifier-labelled set: solutions, verified wrong rewrites, and bare right/wrong answers. */
export function labelledSet(config: RmPretrainConfig, tasks: ReturnType<typeof generateTasks>): Labelled[] {
  const rng = new Rng(mixSeed(config.seed, 3));
  const rewriter = new RuleNegativeSynthesizer();
  const out: Labelled[] = [];
  for (const task of tasks) {
    if (out.length >= config.labelledSize) break;
    const solution = task.solution ?? `#### ${task.answer}`;
    const wantCorrect = rng.next() < config.positiveFraction;
    const bare = rng.next() < 0.25;
    let completion: string | undefined;
    if (wantCorrect) completion = bare ? `#### ${task.answer}` : solution;
    else if (bare) completion = `#### ${Number(task.answer) + rng.pick([-2, -1, 1, 2])}`;
    else {completion = rewriter.candidates(
        { question: task.question, reference: task.answer, response: solution },
        rng,
      )[0]?.text;}
    if (completion === undefined) continue;
    // The label is the verifier's verdict, whatever we meant to make.
    const label = verify(completion, task.answer).verdict === "correct" ? 1 : 0;
    out.push({ input: formatRmInput(task.question, task.answer, completion), label });
  }
  return out;
}

/** VerifyRM-style pretraining: BCE on the labelled set; reports held-out pairwise accuracy. */
export async function runRmPretrain(ctx: JobContext, config: RmPretrainConfig): Promise<void> {
  const data = await loadRunData(config.data, config.eval, config.seed);
  ctx.status.notes.push(...data.notes);
  const items = labelledSet(config, data.train);
  const pairs = await verificationPairs(data.eval, config.seed);
  const rm = await modelSpec(config.rewardModel, {
    classifier: true,
    seed: config.seed,
    saveDtype: config.checkpoint.dtype,
  });
  const opts = roleOptions(ctx, config.learner.resources);
  const learner = await ctx.cluster.spawn(RewardLearner, { ...opts("learner"), ...LEARNER_FAULT_TOLERANCE }, {
    rewardModel: rm,
    objective: "bce",
    optim: optimOf(config),
  });
  const handles: ActorHandle<unknown>[] = [learner as ActorHandle<unknown>];
  try {
    const scorer = await ctx.cluster.spawn(RewardActor, { ...opts("eval"), resources: { cpu: 0.5 } }, rm);
    handles.push(scorer as ActorHandle<unknown>);
    const evaluate = async (version: number) => {
      await learner.publish(`${ctx.id}.rm.v${version}`, version);
      return await verificationAccuracy(scorer, pairs, { blobPrefix: `${ctx.id}.rm`, version });
    };
    let order: Labelled[] = [];
    await trainSteps(ctx, config, {
      step: async (step) => {
        if (order.length < config.batchSize) order = [...order, ...new Rng(mixSeed(config.seed, step)).shuffle(items)];
        const report = await learner.updateLabelled(order.splice(0, config.batchSize));
        return { loss: report.loss, accuracy: report.metrics.accuracy ?? Number.NaN };
      },
      evaluate: async (version) => ({ rm_pair_accuracy: await evaluate(version) }),
    });
    await saveModel(ctx, learner, `${config.checkpoint.dir}/reward_model`);
  } finally {
    await killAll(ctx, handles);
  }
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
async function saveModel(ctx: JobContext, learner: ActorHandle<{ save(dir: string): void }>, dir: string) {
  await learner.save(await absolutePath(dir));
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
