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
import { CallTimeoutError, ConfigError, createLogger, NoRespondersError } from "../../shared/mod.ts";

/** Restarts and retries the stateless roles get (rollout, reward, reference, negatives). */
export const ROLE_FAULT_TOLERANCE = { maxRestarts: 3, maxTaskRetries: 3 } as const;

/** Learners never restart. */
// A learner that restarted would come back with its initial weights and silently train from there: learners do
// not restart, so their death fails the run, which resumes from its last checkpoint (`--resume`).
export const LEARNER_FAULT_TOLERANCE = { maxRestarts: 0, maxTaskRetries: 0 } as const;
/** Learners publish weights: under per-actor credentials they alone may write blobs (actors/actor_creds.ts). */
export const LEARNER_GRANTS = { blobWrite: true } as const;

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

const log = createLogger({ component: "runs" });

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
        log.error(`Cannot kill run actor "${handle.actorId}": ${(error as Error).message}`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The optimiser settings a learner takes from its section of the config (`grpo` or `rewardUpdate`). */
function optimOptions(
  section: { lr: number; gradClip: number; weightDecay: number },
  microBatchSize: number,
): PolicyLearnerSpec["optim"] {
  return { lr: section.lr, gradClip: section.gradClip, weightDecay: section.weightDecay, microBatchSize };
}

/** The policy learner of a GRPO run: `grpo.*` sets its optimiser and loss. */
function grpoLearner(config: RunConfig, policy: ModelSpec): PolicyLearnerSpec {
  return {
    policy,
    objective: "grpo" as const,
    optim: optimOptions(config.grpo, config.grpo.microBatchSize),
    grpo: { clipRatio: config.grpo.clipRatio, clipRatioC: config.grpo.clipRatioC, klCoef: config.grpo.klCoef },
  };
}

/** The reward learner of a GRPO run (pairwise: Cooper's update; `rewardUpdate.*` sets its optimiser). */
function cooperLearner(config: RunConfig, rewardModel: ModelSpec): RewardLearnerSpec {
  return {
    rewardModel,
    objective: "pairwise" as const,
    optim: optimOptions(config.rewardUpdate, config.grpo.microBatchSize),
    ...(config.rewardUpdate.freezeEmbedding ? { frozen: [EMBEDDING] } : {}),
  };
}

/** A run's actors as they come up, so a spawn that fails part-way kills the ones already running. */
class RoleSpawner {
  readonly #cluster: Cluster;
  readonly #runId: string;
  readonly #signal: AbortSignal | undefined;
  readonly #spawned: ActorHandle<unknown>[] = [];

  constructor(cluster: Cluster, runId: string, signal: AbortSignal | undefined) {
    this.#cluster = cluster;
    this.#runId = runId;
    this.#signal = signal;
  }

  /** The actor name of a role: `<run>-<role>`, with `-<index>` from the second instance on. */
  name(role: string, index = 0): string {
    return `${this.#runId}-${role}${index === 0 ? "" : `-${index}`}`;
  }

  /** Spawns one role actor with its fault-tolerance settings (learners restart differently from stateless roles). */
  // deno-lint-ignore no-explicit-any
  async spawn<C extends new (spec: any) => any>(
    cls: C,
    role: string,
    resources: Record<string, number>,
    spec: ConstructorParameters<C>[0],
    index = 0,
    grants: { calls?: string[] } = {},
  ): Promise<ActorHandle<InstanceType<C>>> {
    const handle = await this.#cluster.spawn(cls, {
      name: this.name(role, index),
      resources,
      signal: this.#signal,
      ...(role.endsWith("learner") ? { ...LEARNER_FAULT_TOLERANCE, ...LEARNER_GRANTS } : ROLE_FAULT_TOLERANCE),
      ...grants,
    }, ...[spec] as ConstructorParameters<C>);
    this.#spawned.push(handle as ActorHandle<unknown>);
    return handle;
  }

  /** Kills every actor spawned so far. */
  readonly stop = async (): Promise<void> => {
    await Promise.all(this.#spawned.map((h) => killSurely(this.#cluster, h)));
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
  const roles = new RoleSpawner(cluster, runId, options.signal);
  try {
    // The synthesizer looks the assistant up by name on first use; its credential may call only that actor, so it
    // is spawned once the assistant has an id.
    const negativesSpec = assistant === undefined ? {} : { assistant: roles.name("assistant") };
    const assistantSpawn = assistant === undefined
      ? undefined
      : roles.spawn(AssistantRewriter, "assistant", assistant.resources, assistant.spec);
    const negativesSpawn = (async () => {
      const grants = assistantSpawn === undefined ? {} : { calls: [(await assistantSpawn).actorId] };
      return roles.spawn(NegativeSynthesizer, "negatives", config.negatives.resources, negativesSpec, 0, grants);
    })();
    const rollouts = config.rollout.colocate ? 0 : config.rollout.count;
    const [rolloutActors, rewardActor, reference, policyLearner, rewardLearner, negatives, assistantHandle] =
      await Promise.all([
        Promise.all(
          Array.from(
            { length: rollouts },
            (_, i) => roles.spawn(RolloutActor, "rollout", config.rollout.resources, policy, i),
          ),
        ),
        config.reward.colocate ? undefined : roles.spawn(RewardActor, "reward", config.reward.resources, rm),
        roles.spawn(ReferenceActor, "reference", config.reference.resources, policy),
        roles.spawn(PolicyLearner, "policy-learner", config.policyLearner.resources, grpoLearner(config, policy)),
        roles.spawn(RewardLearner, "reward-learner", config.rewardLearner.resources, cooperLearner(config, rm)),
        negativesSpawn,
        assistantSpawn,
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
      stop: roles.stop,
    };
  } catch (error) {
    await roles.stop();
    throw error;
  }
}
