/**
 * Turning a run config into role actors on the cluster: model specs (HF config, tokenizer, first weights) and one
 * spawn per actor with the role's resources. Every role restarts on a crash (`maxRestarts`) and its idempotent
 * methods are retried (`maxTaskRetries`), which is how a killed rollout actor's in-flight work gets re-queued.
 */
import { resolve } from "node:path";
import type { ActorHandle } from "../../actors/mod.ts";
import type { Cluster } from "../../actors/mod.ts";
import {
  AssistantRewriter,
  type AssistantSpec,
  loadTokenizer,
  type ModelSpec,
  NegativeSynthesizer,
  PolicyLearner,
  type PolicyLearnerSpec,
  ReferenceActor,
  RewardActor,
  RewardLearner,
  type RewardLearnerSpec,
  RolloutActor,
  tinyHfConfig,
} from "../../actors/roles/mod.ts";
import { EMBEDDING } from "../../actors/roles/mod.ts";
import type { SaveDtype } from "../../engine/io/mod.ts";
import type { WeightDtype } from "../../actors/weights/mod.ts";
import type { ModelConfig, RunConfig } from "../../rl/mod.ts";
import { CallTimeoutError, ConfigError, NoRespondersError } from "../../shared/mod.ts";

/** Restarts and retries the stateless roles get (rollout, reward, reference, negatives). */
export const ROLE_FAULT_TOLERANCE = { maxRestarts: 3, maxTaskRetries: 3 } as const;

/** Learners never restart. */
// A learner that restarted would come back with its initial weights and silently train from there: learners do
// not restart, so their death fails the run, which resumes from its last checkpoint (`--resume`).
export const LEARNER_FAULT_TOLERANCE = { maxRestarts: 0, maxTaskRetries: 0 } as const;

/**
 * The spec of a model from config: its checkpoint's config.json, or a fresh tiny Llama sized for its tokenizer
 * (`char` unless a HF tokenizer is named).
 */
export async function modelSpec(
  model: Omit<ModelConfig, "chatTemplate"> & { chatTemplate?: boolean },
  options: { classifier: boolean; seed: number; saveDtype?: SaveDtype; transferDtype?: WeightDtype },
): Promise<ModelSpec> {
  const prompt = {
    chatTemplate: model.chatTemplate ?? true,
    ...(model.systemPrompt === undefined ? {} : { systemPrompt: model.systemPrompt }),
  };
  const saveDtype = options.saveDtype ?? "float32";
  const transfer = options.transferDtype === undefined ? {} : { transferDtype: options.transferDtype };
  if (model.checkpoint === undefined) {
    const tokenizer = tokenizerPath(model.tokenizer ?? "char");
    return {
      hfConfig: tinyHfConfig(model, { classifier: options.classifier, tokenizer: await loadTokenizer(tokenizer) }),
      tokenizer,
      weights: { kind: "random", seed: options.seed },
      prompt,
      saveDtype,
      ...transfer,
    };
  }
  return { ...await checkpointSpec(model.checkpoint, model.tokenizer), prompt, saveDtype, ...transfer };
}

function tokenizerPath(name: string): string {
  return name === "char" ? "char" : resolve(name);
}

/**
 * The spec of a checkpoint folder (its config.json decides the architecture). Without a `tokenizer`, the
 * checkpoint's own is used when it has a `tokenizer.json` (an HF folder), else `char` (the demo's tiny models).
 */
export async function checkpointSpec(checkpoint: string, tokenizer?: string): Promise<ModelSpec> {
  const dir = resolve(checkpoint);
  let hfConfig: Record<string, unknown>;
  try {
    hfConfig = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  } catch (error) {
    throw new ConfigError(`Cannot read the model checkpoint "${checkpoint}": ${(error as Error).message}`);
  }
  const own = await Deno.stat(`${dir}/tokenizer.json`).then(() => true, () => false);
  return {
    hfConfig,
    tokenizer: tokenizerPath(tokenizer ?? (own ? dir : "char")),
    weights: { kind: "checkpoint", dir },
  };
}

/** The assistant rewriter of `negatives.rewriter: "assistant"`, as the actor is spawned with. */
export async function assistantSpec(
  assistant: NonNullable<RunConfig["negatives"]["assistant"]>,
): Promise<AssistantSpec> {
  return {
    model: {
      ...await checkpointSpec(assistant.checkpoint, assistant.tokenizer),
      prompt: { chatTemplate: assistant.chatTemplate },
    },
    samples: assistant.samples,
    maxNewTokens: assistant.maxNewTokens,
    temperature: assistant.temperature,
    ...(assistant.prompt === undefined ? {} : { prompt: assistant.prompt }),
  };
}

/** Handles on every role actor of an RL run. */
export interface RunRoles {
  rollouts: ActorHandle<RolloutActor>[];
  reward: ActorHandle<RewardActor>;
  reference: ActorHandle<ReferenceActor>;
  policyLearner: ActorHandle<PolicyLearner>;
  rewardLearner: ActorHandle<RewardLearner>;
  negatives: ActorHandle<NegativeSynthesizer>;
  /** The assistant model the negative synthesizer rewrites with (`negatives.rewriter: "assistant"`). */
  assistant?: ActorHandle<AssistantRewriter>;
  /** Kills them all. */
  stop(): Promise<void>;
}

// How long a run's end keeps asking for its actors' kill while no coordinator answers (one may be taking over).
const KILL_RETRY_MS = 60_000;

/**
 * Kills `handle`, retrying while no coordinator answers: a run that ends during a coordinator failover would
 * otherwise leave its actors running, holding their resources, with nobody left to stop them.
 */
async function killSurely(cluster: Cluster, handle: ActorHandle<unknown>): Promise<void> {
  const deadline = performance.now() + KILL_RETRY_MS;
  for (let delay = 200;; delay = Math.min(2 * delay, 2000)) {
    try {
      return await cluster.kill(handle, { graceful: false });
    } catch (error) {
      const retry = error instanceof NoRespondersError || error instanceof CallTimeoutError;
      if (!retry || performance.now() > deadline) {
        console.error(`Cannot kill run actor "${handle.actorId}": ${(error as Error).message}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The policy learner of a GRPO run: `grpo.*` sets its optimiser and loss. */
function grpoLearner(config: RunConfig, policy: ModelSpec): PolicyLearnerSpec {
  return {
    policy,
    objective: "grpo" as const,
    optim: {
      lr: config.grpo.lr,
      gradClip: config.grpo.gradClip,
      weightDecay: config.grpo.weightDecay,
      microBatchSize: config.grpo.microBatchSize,
    },
    grpo: { clipRatio: config.grpo.clipRatio, clipRatioC: config.grpo.clipRatioC, klCoef: config.grpo.klCoef },
  };
}

/** The reward learner of a GRPO run (pairwise: Cooper's update; `rewardUpdate.*` sets its optimiser). */
function cooperLearner(config: RunConfig, rewardModel: ModelSpec): RewardLearnerSpec {
  return {
    rewardModel,
    objective: "pairwise" as const,
    optim: {
      lr: config.rewardUpdate.lr,
      gradClip: config.rewardUpdate.gradClip,
      weightDecay: config.rewardUpdate.weightDecay,
      microBatchSize: config.grpo.microBatchSize,
    },
    ...(config.rewardUpdate.freezeEmbedding ? { frozen: [EMBEDDING] } : {}),
  };
}

/** Spawns the role actors of an RL run (in parallel; they load their models lazily). */
export async function spawnRoles(
  cluster: Cluster,
  config: RunConfig,
  runId: string,
  options: { signal?: AbortSignal } = {},
): Promise<RunRoles> {
  const saved = { saveDtype: config.checkpoint.dtype, transferDtype: config.weights.transferDtype };
  const policy = await modelSpec(config.policy, { classifier: false, seed: config.seed, ...saved });
  const rm = await modelSpec(config.rewardModel, { classifier: true, seed: config.seed + 1, ...saved });
  const assistant = config.negatives.rewriter === "assistant" && config.negatives.assistant !== undefined
    ? { spec: await assistantSpec(config.negatives.assistant), resources: config.negatives.assistant.resources }
    : undefined;
  const opts = (role: string, resources: Record<string, number>, index = 0) => ({
    name: `${runId}-${role}${index === 0 ? "" : `-${index}`}`,
    resources,
    signal: options.signal,
    ...(role.endsWith("learner") ? LEARNER_FAULT_TOLERANCE : ROLE_FAULT_TOLERANCE),
  });
  const spawned: ActorHandle<unknown>[] = [];
  const track = <T>(handle: Promise<ActorHandle<T>>) =>
    handle.then((h) => {
      spawned.push(h as ActorHandle<unknown>);
      return h;
    });
  const stop = async () => {
    await Promise.all(spawned.map((h) => killSurely(cluster, h)));
  };
  try {
    // The synthesizer looks the assistant up by name on first use, so both can be spawned together.
    const assistantName = opts("assistant", {}).name;
    const [rolloutActors, rewardActor, reference, policyLearner, rewardLearner, negatives, assistantHandle] =
      await Promise.all([
        Promise.all(
          Array.from(
            { length: config.rollout.colocate ? 0 : config.rollout.count },
            (_, i) => track(cluster.spawn(RolloutActor, opts("rollout", config.rollout.resources, i), policy)),
          ),
        ),
        config.reward.colocate
          ? Promise.resolve(undefined)
          : track(cluster.spawn(RewardActor, opts("reward", config.reward.resources), rm)),
        track(cluster.spawn(ReferenceActor, opts("reference", config.reference.resources), policy)),
        track(
          cluster.spawn(
            PolicyLearner,
            opts("policy-learner", config.policyLearner.resources),
            grpoLearner(config, policy),
          ),
        ),
        track(
          cluster.spawn(
            RewardLearner,
            opts("reward-learner", config.rewardLearner.resources),
            cooperLearner(config, rm),
          ),
        ),
        track(cluster.spawn(
          NegativeSynthesizer,
          opts("negatives", config.negatives.resources),
          assistant === undefined ? {} : { assistant: assistantName },
        )),
        assistant === undefined
          ? Promise.resolve(undefined)
          : track(cluster.spawn(AssistantRewriter, opts("assistant", assistant.resources), assistant.spec)),
      ]);
    // A colocated role is its learner: PolicyLearner.rollout and RewardLearner.score take the same requests and
    // return the same results as the role actors' methods, so the driver calls the learner's handle in their place.
    return {
      rollouts: config.rollout.colocate ? [policyLearner as unknown as ActorHandle<RolloutActor>] : rolloutActors,
      reward: rewardActor ?? rewardLearner as unknown as ActorHandle<RewardActor>,
      reference,
      policyLearner,
      rewardLearner,
      negatives,
      ...(assistantHandle === undefined ? {} : { assistant: assistantHandle }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
