/**
 * Run configs (YAML or JSON) for the three jobs: `rl` (GRPO with a `rule`, `static-rm` or `cooper` reward),
 * `sft` (policy warm-up) and `rm-pretrain` (VerifyRM-style BCE). Every field has a default sized for the tiny
 * CPU demo, unknown fields are errors (a typo like `maxStalness` must not silently become the default), and
 * every error names the field path: `Invalid run config: rollout.count: expected a positive integer, got -1`.
 */

import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError, type ConfigIssue } from "../shared/mod.ts";
import { MAX_LEVEL } from "./tasks/synthetic.ts";

/** A run config's {@link ConfigError}: the message lists every issue, `issues` has them structured. */
function invalidConfig(kind: string, issues: ConfigIssue[]): ConfigError {
  const listed = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
  return new ConfigError(`Invalid ${kind} config: ${listed}`, { issues });
}

const posInt = () =>
  z.number({ error: "expected a positive integer" })
    .int({ error: "expected a positive integer" })
    .positive({ error: "expected a positive integer" });
const nonNegInt = () =>
  z.number({ error: "expected a non-negative integer" })
    .int({ error: "expected a non-negative integer" })
    .nonnegative({ error: "expected a non-negative integer" });
const int = () => z.number({ error: "expected an integer" }).int({ error: "expected an integer" });
const posNumber = () =>
  z.number({ error: "expected a positive number" }).positive({ error: "expected a positive number" });
const nonNegNumber = () =>
  z.number({ error: "expected a non-negative number" }).nonnegative({ error: "expected a non-negative number" });
const text = () => z.string({ error: "expected a non-empty string" }).min(1, { error: "expected a non-empty string" });

/** Resources one actor of a role asks the scheduler for, e.g. `{cpu: 1, memoryMb: 512}`. */
const Resources = z.record(z.string(), nonNegNumber());

const role = (count: number, cpu: number) =>
  z.strictObject({ count: posInt().default(count), resources: Resources.default({ cpu }) }).prefault({});

/**
 * A sampling or scoring role that may run inside its learner's process (`colocate`), from the learner's live weights:
 * no actors of the role, no second copy of the weights, no weight publish. Needs `maxStaleness: 0`.
 */
const colocatableRole = (count: number, cpu: number) =>
  z.strictObject({
    count: posInt().default(count),
    resources: Resources.default({ cpu }),
    colocate: z.boolean().default(false),
  }).prefault({});

/**
 * A model: `checkpoint` (a Coop safetensors dir or an HF checkpoint dir) to load, whose own config then decides the
 * architecture; without one, the architecture fields below describe a fresh init.
 */
const Model = (maxSeqLen: number) =>
  z.strictObject({
    checkpoint: text().optional(),
    /**
     * `char` for the engine's char tokenizer, or a HF tokenizer folder (or its `tokenizer.json`). Default: the
     * checkpoint's own tokenizer when it has a `tokenizer.json`, else `char`.
     */
    tokenizer: text().optional(),
    /** Build prompts with the checkpoint's chat template when it has one (RM: its input as one user turn). */
    chatTemplate: z.boolean({ error: "expected true or false" }).default(true),
    /** A system message before each question (chat-templated policy prompts only). */
    systemPrompt: text().optional(),
    dModel: posInt().default(64),
    nLayers: posInt().default(2),
    nHeads: posInt().default(4),
    dFF: posInt().default(256),
    maxSeqLen: posInt().default(maxSeqLen),
  }).refine((m) => m.dModel % m.nHeads === 0, { error: "dModel must be divisible by nHeads", path: ["nHeads"] })
    .prefault({});

/** The assistant model of `negatives.rewriter: "assistant"`: a causal LM checkpoint prompted to rewrite. */
const Assistant = z.strictObject({
  checkpoint: text(),
  /** `char`, or a HF tokenizer folder (or its `tokenizer.json`); default: the checkpoint's, as for the policy. */
  tokenizer: text().optional(),
  /** Send the rewrite prompt as a user turn of the checkpoint's chat template when it has one. */
  chatTemplate: z.boolean({ error: "expected true or false" }).default(true),
  resources: Resources.default({ cpu: 1 }),
  /** Candidates sampled per correct response (the verifier filter keeps the first wrong one). */
  samples: posInt().default(4),
  maxNewTokens: posInt().default(256),
  temperature: nonNegNumber().default(0.7),
  /** Template with `{question}`, `{response}` and `{reference}`; default: the actor's built-in rewrite prompt. */
  prompt: text().optional(),
});

/** Who rewrites correct responses into negatives: the rule rewriter (built-in tasks) or an assistant model. */
const Negatives = z.strictObject({
  count: posInt().default(1),
  resources: Resources.default({ cpu: 0.25 }),
  rewriter: z.enum(["rule", "assistant"], { error: `expected "rule" or "assistant"` }).default("rule"),
  assistant: Assistant.optional(),
}).check((ctx) => {
  const { rewriter, assistant } = ctx.value;
  if (rewriter === "assistant" && assistant === undefined) {
    ctx.issues.push({
      code: "custom",
      input: ctx.value,
      path: ["assistant"],
      message: `is required when rewriter is "assistant" (give at least its checkpoint)`,
    });
  }
  if (rewriter === "rule" && assistant !== undefined) {
    ctx.issues.push({
      code: "custom",
      input: ctx.value,
      path: ["rewriter"],
      message: `expected "assistant" when an assistant is configured (it would be unused with "rule")`,
    });
  }
}).prefault({});

const level = () => posInt().max(MAX_LEVEL, { error: `expected a level from 1 to ${MAX_LEVEL}` });

/** Where tasks come from: the built-in generator, a GSM8K/MATH-style JSONL file or a verl parquet file. */
const Data = z.discriminatedUnion("source", [
  z.strictObject({
    source: z.literal("builtin"),
    levels: z.array(level()).min(1, { error: "expected at least one level" }).default([1, 2]),
    seed: int().default(0),
    size: posInt().default(2000),
  }),
  z.strictObject({ source: z.literal("gsm8k"), path: text() }),
  z.strictObject({ source: z.literal("math"), path: text() }),
  // verl's RL parquet: `prompt` chat messages, `reward_model.ground_truth`, `data_source`.
  z.strictObject({ source: z.literal("verl"), path: text() }),
], { error: `expected "builtin", "gsm8k", "math" or "verl"` }).prefault({ source: "builtin" });

/** Held-out evaluation with the rule verifier (greedy decoding). */
const Eval = z.strictObject({
  /** Every N steps; 0 = only at the end. */
  interval: nonNegInt().default(10),
  size: posInt().default(64),
  /** Built-in data: the held-out generator seed (tasks seen in training are excluded). */
  seed: int().default(1_000_003),
  /** File data: a separate held-out JSONL in the same format. */
  path: text().optional(),
  /**
   * Held-out policy answers the RM is scored on at every evaluation (`rm_heldout_pair_accuracy`,
   * `rm_heldout_accuracy`): the `heldout_answers.json` RM pretraining writes beside the RM.
   */
  rmAnswers: text().optional(),
}).prefault({});

const Checkpoint = z.strictObject({
  dir: text().default("runs"),
  /** Every N steps; 0 = only at the end. */
  interval: nonNegInt().default(0),
  /** The dtype saved model weights are stored in (the optimizer state stays float32). */
  dtype: z.enum(["float32", "bfloat16", "float16"], { error: `expected "float32", "bfloat16" or "float16"` })
    .default("float32"),
}).prefault({});

/**
 * How weight versions travel from the learners to the rollout, reward and reference actors: `bfloat16` or
 * `float16` halve the bytes (widened to float32 again on load); training stays float32.
 */
const Weights = z.strictObject({
  transferDtype: z.enum(["float32", "bfloat16", "float16"], { error: `expected "float32", "bfloat16" or "float16"` })
    .default("float32"),
}).prefault({});

const Optim = { lr: posNumber(), gradClip: posNumber().default(1.0), weightDecay: nonNegNumber().default(0.01) };

/** GRPO hyperparameters (Cooper/verl recipe defaults; sizes for the tiny demo). */
const Grpo = z.strictObject({
  samplesPerPrompt: posInt().min(2, { error: "expected at least 2 samples per prompt (GRPO compares within groups)" })
    .default(4),
  promptsPerStep: posInt().default(8),
  microBatchSize: posInt().default(16),
  ppoEpochs: posInt().default(1),
  clipRatio: posNumber().max(1, { error: "expected a clip ratio in (0, 1]" }).default(0.2),
  clipRatioC: z.number().gt(1, { error: "expected a dual-clip ratio greater than 1" }).default(3.0),
  klCoef: nonNegNumber().default(0.001),
  epsilon: posNumber().default(1e-6),
  ...Optim,
  lr: posNumber().default(3e-4),
  maxNewTokens: posInt().default(24),
  temperature: posNumber().default(1.0),
  /** Divide advantages by the group's reward std (GRPO); false centres on the group mean only (Dr. GRPO). */
  normalizeByStd: z.boolean({ error: "expected true or false" }).default(true),
  /**
   * How an RM score becomes the policy reward in `static-rm` and `cooper`: `probability` = σ(score) (the paper),
   * `verdict` = 1 when σ(score) > ½ else 0 (the RM read as the classifier VerifyRM is trained to be).
   */
  rmReward: z.enum(["probability", "verdict"], { error: `expected "probability" or "verdict"` }).default("probability"),
  /**
   * A control, not a method: in `rule` mode each sample's 0/1 reward is flipped with this probability (seeded by the
   * run seed and step). It measures what a reward that disagrees with the verifier on that share of samples costs
   * GRPO, to set against an RM's agreement in the RM modes (docs/rl.md). 0 = the verifier as it is.
   */
  verdictNoise: z.number().min(0).max(0.5, { error: "expected a flip probability in [0, 0.5]" }).default(0),
}).prefault({});

/**
 * The RM's pairwise update in `cooper` mode. Defaults are the paper's: AdamW lr 1e-5, grad clip 1.0, one pair per
 * prompt group with a correct response, one negative per positive, no replay, one RM step per RL step, the RM
 * updated before the policy. Each knob is here because the demo measured it (docs/rl.md).
 */
const RewardUpdate = z.strictObject({
  ...Optim,
  lr: posNumber().default(1e-5),
  /** RM steps per RL step (k), each over the same pairs. */
  epochs: posInt().default(1),
  /** Correct responses per group used as positives (1 = the paper's one pair per group). */
  positivesPerGroup: posInt().default(1),
  /** Verified-wrong rewrites paired with each positive. */
  negativesPerPositive: posInt().default(1),
  /** Steps of recent verified pairs replayed with the current step's (0 = only the current step's). */
  replaySteps: nonNegInt().default(0),
  /** Keep the RM's embedding table fixed: no gradient, no AdamW moments for it (~1.6 GiB less at 0.5B). */
  freezeEmbedding: z.boolean().default(false),
  /**
   * Where a positive's negatives come from: `rewrite` (the paper: a rewrite of the positive that the verifier says
   * is wrong), `policy` (the same group's own samples the verifier says are wrong), `both` (the policy's first,
   * rewrites fill up to `negativesPerPositive`).
   */
  negatives: z.enum(["rewrite", "policy", "both"], { error: `expected "rewrite", "policy" or "both"` }).default(
    "rewrite",
  ),
  /**
   * Weight of a pointwise anchor: BCE of the RM on the verifier's labels of the step's rollouts, added to the
   * pairwise loss (loss = pairwise + w · BCE; 0 = the paper's pairwise-only update).
   */
  anchorWeight: nonNegNumber().default(0),
  /**
   * Pairs whose positive is a wrong sample repaired to the reference answer (final answer, and the step result it
   * copied, set to the reference), negative the sample: `none` (the paper: pairs only from groups with a correct
   * sample), `unpaired` (for groups with no correct sample), `all` (for every wrong sample of every group).
   */
  repairs: z.enum(["none", "unpaired", "all"], { error: `expected "none", "unpaired" or "all"` }).default("none"),
  /**
   * `rm-first`: update the RM, then the policy (the paper's order; this step's policy rewards still come from the
   * RM that scored the batch). `rm-first-rescore`: the same, but the batch is scored again by the updated RM before
   * the policy rewards are computed. `policy-first`: the policy update, then the RM's.
   */
  order: z.enum(["rm-first", "rm-first-rescore", "policy-first"], {
    error: `expected "rm-first", "rm-first-rescore" or "policy-first"`,
  }).default("rm-first"),
}).prefault({});

/**
 * The reward-hacking monitor (every mode): RM–verifier agreement on each step's fresh rollouts, and the trends of
 * RM reward and verifier accuracy over `window` steps; `hacking_alarm` when the first rises and the second falls by
 * `threshold` or more (`test: trend`), or when the window's mean σ(RM) − verifier accuracy has risen and its mean
 * verifier accuracy fallen by `threshold` from the first window's (`drift`); `both` (default) raises it on either.
 * `response` (cooper mode only): `none`, `freeze` (no RM updates while the alarm is on), `rollback` (on every
 * alarmed step, restore the last RM version whose agreement was at least `agreement`) or `rollback-once` (that
 * restore once, at the first step of an alarm episode, then keep training; the next restore waits for the alarm to
 * clear and rise again).
 */
const Monitor = z.strictObject({
  window: posInt().min(2, { error: "expected a window of at least 2 steps" }).default(10),
  threshold: nonNegNumber().default(0.05),
  agreement: z.number().min(0).max(1, { error: "expected a fraction in [0, 1]" }).default(0.8),
  test: z.enum(["trend", "drift", "both"], { error: `expected "trend", "drift" or "both"` }).default("both"),
  response: z.enum(["none", "freeze", "rollback", "rollback-once"], {
    error: `expected "none", "freeze", "rollback" or "rollback-once"`,
  }).default("none"),
}).prefault({});

/** Experiment tracking: metric points as JSON lines and/or TensorBoard event files, under `<dir>/<run id>/`. */
const Logging = z.strictObject({
  jsonl: z.strictObject({ dir: text() }).optional(),
  tensorboard: z.strictObject({ dir: text() }).optional(),
}).prefault({});

const common = {
  name: text().default("run"),
  seed: int().default(0),
  data: Data,
  eval: Eval,
  checkpoint: Checkpoint,
  logging: Logging,
};

/** The GRPO run config. */
export const RunConfigSchema = z.strictObject({
  kind: z.literal("rl").default("rl"),
  ...common,
  mode: z.enum(["rule", "static-rm", "cooper"], { error: `expected "rule", "static-rm" or "cooper"` }).default(
    "cooper",
  ),
  steps: posInt().default(40),
  /** Policy versions a sample may lag the learner by and still be trained on; 0 = synchronous. */
  maxStaleness: nonNegInt().default(1),
  rollout: colocatableRole(2, 1),
  reward: colocatableRole(1, 0.5),
  reference: role(1, 0.5),
  policyLearner: role(1, 1),
  rewardLearner: role(1, 1),
  negatives: Negatives,
  policy: Model(128),
  rewardModel: Model(256),
  grpo: Grpo,
  rewardUpdate: RewardUpdate,
  monitor: Monitor,
  weights: Weights,
  /** Consecutive skipped (non-finite) updates of the policy or the RM after which the run fails. */
  maxConsecutiveSkips: posInt().default(3),
}).superRefine((config, ctx) => {
  if (config.grpo.verdictNoise > 0 && config.mode !== "rule") {
    ctx.addIssue({
      code: "custom",
      path: ["grpo", "verdictNoise"],
      message: `expected 0 in mode ${config.mode} (the flip control applies to the rule reward only)`,
    });
  }
  // A colocated role reads the learner's live weights, which are always the newest version: it cannot serve a
  // batch launched ahead for an older one.
  for (const role of ["rollout", "reward"] as const) {
    if (config[role].colocate && config.maxStaleness !== 0) {
      ctx.addIssue({
        code: "custom",
        path: ["maxStaleness"],
        message: `expected 0 with ${role}.colocate (a colocated ${role} uses the learner's current weights)`,
      });
    }
  }
});

/** What both warm-ups share: one learner, taking one micro-batch of `batchSize` per step. */
const warmup = {
  learner: role(1, 1),
  batchSize: posInt().default(16),
  ...Optim,
  lr: posNumber().default(1e-3),
};

/** Policy SFT warm-up on reference solutions. */
export const SftConfigSchema = z.strictObject({
  kind: z.literal("sft"),
  ...common,
  ...warmup,
  policy: Model(128),
  steps: posInt().default(300),
});

/** VerifyRM-style RM pretraining: BCE on (question, reference, completion, label) triples. */
export const RmPretrainConfigSchema = z.strictObject({
  kind: z.literal("rm-pretrain"),
  ...common,
  ...warmup,
  rewardModel: Model(256),
  /** Training tasks the labelled set is built from (each gives several verifier-labelled completions). */
  labelledTasks: posInt().default(256),
  /**
   * The policy whose own answers are labelled (normally the SFT warm-up's): without it the set holds only reference
   * solutions, their verified-wrong rewrites and bare answers.
   */
  policy: z.strictObject({
    checkpoint: text(),
    tokenizer: text().default("char"),
    /** Sampling temperatures; each samples `samples` answers per task. */
    temperatures: z.array(posNumber()).min(1, { error: "expected at least one temperature" }).default([1]),
    samples: posInt().default(2),
    maxNewTokens: posInt().default(24),
  }).optional(),
  /** Verified-wrong rule rewrites proposed per correct completion (hard negatives). */
  rewritesPerPositive: nonNegInt().default(2),
  /** Batches take half positives, half negatives (so σ(RM) > ½ means "correct" whatever the base rate). */
  balanced: z.boolean().default(true),
  /** Held-out policy samples per eval task for the RM's sample-level accuracy (needs `policy`). */
  evalSamples: posInt().default(8),
  steps: posInt().default(200),
  /**
   * Checkpoint selection on a validation split: `tasks` training tasks after the labelled ones (disjoint from them
   * and from the reported held-out set), `evalSamples` policy answers each. Every `interval` steps the RM is scored
   * on them (the lower of pairwise and σ > ½ accuracy) and the best version so far is kept; the saved RM is the best
   * one. With `restarts` > 1, that many RMs (other initialisations and batch orders) first train `restartSteps`
   * steps each and only the best on validation goes on to `steps`. `tasks: 0` = off (the last step's RM is saved).
   */
  /** `cosine`: lr decays from `lr` to a tenth of it over `steps` (half a cosine); `constant`: `lr` throughout. */
  lrSchedule: z.enum(["constant", "cosine"], { error: `expected "constant" or "cosine"` }).default("constant"),
  validation: z.strictObject({
    tasks: nonNegInt().default(0),
    interval: posInt().default(100),
    restarts: posInt().default(1),
    restartSteps: posInt().default(300),
  }).prefault({}),
});

/** A validated GRPO run config. */
export type RunConfig = z.output<typeof RunConfigSchema>;
/** A validated SFT config. */
export type SftConfig = z.output<typeof SftConfigSchema>;
/** A validated RM pretraining config. */
export type RmPretrainConfig = z.output<typeof RmPretrainConfigSchema>;
/** Any job config, discriminated by `kind`. */
export type JobConfig = RunConfig | SftConfig | RmPretrainConfig;
/** The reward mode of a GRPO run. */
export type RewardMode = RunConfig["mode"];
/** A model spec as validated. */
export type ModelConfig = RunConfig["policy"];
/** A data source as validated. */
export type DataConfig = RunConfig["data"];

const KIND_NAMES = { rl: "run", sft: "sft", "rm-pretrain": "rm-pretrain" } as const;

/** Validates an RL run config object (defaults filled in). */
export function parseRunConfig(input: unknown): RunConfig {
  return validate(RunConfigSchema, input, "run");
}

/** Validates a config of any kind; a missing `kind` means `rl`. */
export function parseJobConfig(input: unknown): JobConfig {
  const kind = typeof input === "object" && input !== null && "kind" in input ? input.kind : "rl";
  if (kind === "sft") return validate(SftConfigSchema, input, KIND_NAMES.sft);
  if (kind === "rm-pretrain") return validate(RmPretrainConfigSchema, input, KIND_NAMES["rm-pretrain"]);
  if (kind === "rl") return validate(RunConfigSchema, input, KIND_NAMES.rl);
  throw invalidConfig("run", [{ path: "kind", message: `expected "rl", "sft" or "rm-pretrain", got ${show(kind)}` }]);
}

/** Options for {@link parseConfigText}. */
export interface ParseConfigTextOptions {
  /** Default: JSON when the text starts with `{`, else YAML. */
  format?: "yaml" | "json";
  /** File name for error messages. */
  source?: string;
}

/** Parses YAML or JSON text into a validated config of any kind. */
export function parseConfigText(text: string, options: ParseConfigTextOptions = {}): JobConfig {
  const format = options.format ?? (text.trimStart().startsWith("{") ? "json" : "yaml");
  let data: unknown;
  try {
    data = format === "json" ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const where = options.source ? ` ${options.source}` : "";
    const reason = error instanceof Error ? error.message.split("\n", 1)[0] : String(error);
    throw invalidConfig("run", [{ path: "", message: `cannot parse ${format.toUpperCase()}${where}: ${reason}` }]);
  }
  return parseJobConfig(data ?? {});
}

/** Reads and validates a config file (`.json` is JSON, anything else YAML). */
export async function loadConfig(path: string): Promise<JobConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw invalidConfig("run", [{ path: "", message: `cannot read "${path}": ${reason}` }]);
  }
  return parseConfigText(text, { format: path.endsWith(".json") ? "json" : "yaml", source: path });
}

function validate<S extends z.ZodType>(schema: S, input: unknown, kind: string): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  throw invalidConfig(kind, result.error.issues.map(describeIssue));
}

function describeIssue(issue: z.core.$ZodIssue): ConfigIssue {
  const path = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys.map((k) => `"${k}"`).join(", ");
    return { path, message: `unknown field${issue.keys.length > 1 ? "s" : ""} ${keys}` };
  }
  if (issue.code === "invalid_type" && issue.input === undefined) return { path, message: "is required" };
  const input = (issue as { input?: unknown }).input;
  const got = input === undefined || (typeof input === "object" && input !== null) ? "" : `, got ${show(input)}`;
  return { path, message: `${issue.message}${got}` };
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}
