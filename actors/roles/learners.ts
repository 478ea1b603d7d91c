/**
 * The learners: `PolicyLearner` (GRPO, or next-token SFT for the warm-up) and `RewardLearner` (Cooper's pairwise
 * update, or VerifyRM-style BCE for pretraining). Each owns one `Trainer` (loss, gradients and AdamW in one graph),
 * publishes its weights to the Object Store by version for the actors that sample or score with them, and writes
 * and reads checkpoints (HF-layout `model.safetensors` + `config.json`, plus `optimizer.safetensors`).
 *
 * All micro-batches of an update are padded to one length bucket, so an update compiles at most one accumulate
 * and one step graph per bucket instead of one per micro-batch shape.
 */
import { z } from "zod";
import { readSafetensors, writeSafetensors } from "../../engine/io/mod.ts";
import type { DecoderConfig } from "../../engine/io/mod.ts";
import { Generator } from "../../engine/generate/mod.ts";
import { loadWeights, ModelRuntime } from "../../engine/models/mod.ts";
import { lmTrainingLoss } from "../../engine/score/mod.ts";
import type { TextTokenizer } from "../../engine/tokenizers/mod.ts";
import { bucketLength, type LossFn, type StepReport, Trainer } from "../../engine/train/mod.ts";
import { type GrpoSample, packGrpoBatch, packLabelledBatch, type PackOptions, packPairBatch } from "../../rl/mod.ts";
import { bceTrainingLoss, cooperTrainingLoss, grpoTrainingLoss } from "../../rl/mod.ts";
import { rootedPath } from "../../shared/mod.ts";
import { digestTensors } from "../weights/mod.ts";
import { Tensor } from "../../shared/mod.ts";
import { registerActor } from "../core/mod.ts";
import {
  actorSession,
  configOf,
  initialWeights,
  loadPromptCodec,
  type ModelSpec,
  publishVersion,
  RoleError,
  saveSpecModel,
  toRecord,
} from "./model_spec.ts";
import type { PromptCodec } from "./prompts.ts";
import { rmScores, SCORE_ARGS, type ScoreRequest, type ScoreResult, verdictsOf } from "./reward.ts";
import { ROLLOUT_ARGS, type RolloutRequest, type RolloutSample, sampleRollouts } from "./rollout.ts";

/** Optimizer settings shared by both learners. */
export interface OptimSpec {
  lr: number;
  gradClip: number;
  weightDecay: number;
  /** Rows per micro-batch (gradients are accumulated over micro-batches of one update). */
  microBatchSize: number;
}

/** A learner's one-update report (plain numbers, for metrics). */
export interface UpdateReport {
  loss: number;
  gradNorm: number;
  skipped: boolean;
  step: number;
  rows: number;
  metrics: Record<string, number>;
}

class LearnerCore {
  readonly spec: ModelSpec;
  readonly optim: OptimSpec;
  readonly #loss: (config: DecoderConfig) => LossFn;
  readonly #frozen: readonly string[];
  #live: ModelRuntime | undefined;
  // Updates and colocated inference on the live weights take turns: an in-place AdamW update must never run while a
  // generation or scoring session reads the same buffers.
  #turn: Promise<unknown> = Promise.resolve();
  #trainer: Trainer | undefined;
  // Bumped whenever the weights change (update, roll-back, checkpoint load): the live digest is kept per generation.
  #generation = 0;
  #digest: { generation: number; digest: Promise<string> } | undefined;
  // Per-tensor hashes of the frozen parameters (an update never changes them; a load or roll-back clears these).
  readonly #frozenHashes = new Map<string, string>();
  #config: DecoderConfig | undefined;
  #codec: PromptCodec | undefined;
  // Kept versions for a roll-back (the hacking monitor's `rollback` response): weights and AdamW state.
  readonly #snapshots = new Map<number, { params: Record<string, Tensor>; state: ReturnType<Trainer["state"]> }>();

  constructor(spec: ModelSpec, optim: OptimSpec, loss: (config: DecoderConfig) => LossFn, frozen: string[] = []) {
    this.spec = spec;
    this.optim = optim;
    this.#loss = loss;
    this.#frozen = frozen;
  }

  async ready(): Promise<{ trainer: Trainer; config: DecoderConfig; tokenizer: TextTokenizer; codec: PromptCodec }> {
    if (this.#trainer === undefined) {
      const config = configOf(this.spec);
      const weights = await initialWeights(this.spec, config);
      this.#codec = await loadPromptCodec(this.spec, config);
      this.#config = config;
      const params = toRecord(weights);
      for (const name of this.#frozen) {
        if (!(name in params)) throw new RoleError(`Cannot freeze "${name}": the model has no such parameter`);
      }
      this.#trainer = new Trainer({
        name: "learner",
        params,
        trainable: Object.keys(params).filter((name) => !this.#frozen.includes(name)),
        loss: this.#loss(config),
        adamw: { weightDecay: this.optim.weightDecay, maxGradNorm: this.optim.gradClip },
        session: actorSession(config),
      });
    }
    return { trainer: this.#trainer, config: this.#config!, tokenizer: this.#codec!.tokenizer, codec: this.#codec! };
  }

  async step(batches: Record<string, Tensor>[], rows: number, lr?: number): Promise<UpdateReport> {
    const { trainer } = await this.ready();
    const report: StepReport = await this.inTurn(async () => {
      this.#generation++; // before: a step that fails half-way has changed weights all the same
      return await trainer.step(batches, { lr: lr ?? this.optim.lr });
    });
    return { ...report, rows };
  }

  /**
   * The digest of the live weights (`digestTensors`), computed once per generation. Call it in a turn (see
   * `inTurn`) next to what reads the weights, so no update can come between the digest and its use.
   */
  async liveDigest(): Promise<string> {
    const { trainer } = await this.ready();
    if (this.#digest?.generation !== this.#generation) {
      const live = new Map(Object.entries(trainer.params()));
      const unchanging = { names: this.#frozen, hashes: this.#frozenHashes };
      const entry = { generation: this.#generation, digest: digestTensors(live, { unchanging }) };
      entry.digest.catch(() => this.#digest === entry && (this.#digest = undefined)); // a failure is not kept
      this.#digest = entry;
    }
    return await this.#digest.digest;
  }

  /** Runs `fn` after every update or colocated call queued before it (see `#turn`). */
  inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(fn, fn);
    this.#turn = run.catch(() => {});
    return run;
  }

  /**
   * A runtime over the trainer's live weights (no copy: `Trainer.paramFeeds()` views the buffers AdamW updates in
   * place), for generating or scoring in the learner's own process. Re-shared on each call, so weights a checkpoint
   * load or a roll-back set are the ones used.
   */
  async liveRuntime(): Promise<ModelRuntime> {
    const { trainer, config } = await this.ready();
    this.#live ??= new ModelRuntime(config, { name: "colocated", session: actorSession(config) });
    this.#live.shareWeights(trainer.paramFeeds());
    return this.#live;
  }

  /**
   * Packs rows into micro-batches of `microBatchSize` rows (the packer pads the last one), every one padded to the
   * length bucket of the longest row: one compiled graph per bucket, not per micro-batch shape.
   */
  async pack<T>(
    rows: readonly T[],
    length: (row: T) => number,
    pack: (chunk: T[], options: PackOptions) => Record<string, Tensor>,
  ): Promise<Record<string, Tensor>[]> {
    const { config } = await this.ready();
    const size = this.optim.microBatchSize;
    // The packers round each chunk's length up to a multiple of `lengthBucket`; the whole update's bucket (which no
    // chunk exceeds) as that multiple pads every chunk to exactly that length.
    const options = {
      padId: config.padTokenId ?? 0,
      lengthBucket: bucketLength(Math.max(...rows.map(length))),
      rows: size,
    };
    const out: Record<string, Tensor>[] = [];
    for (let i = 0; i < rows.length; i += size) out.push(pack(rows.slice(i, i + size), options));
    return out;
  }

  /** Keeps the current weights and optimizer state as `version` (the newest `keep` versions are kept). */
  async snapshot(version: number, keep: number): Promise<void> {
    const { trainer } = await this.ready();
    if (keep === 0) return this.#snapshots.clear();
    // Copies: the trainer's tensors may be views of buffers the next step overwrites in place.
    const copy = (r: Record<string, Tensor>) =>
      Object.fromEntries(Object.entries(r).map(([k, t]) => [k, new Tensor(t.dtype, t.shape, t.data.slice())]));
    const state = trainer.state();
    this.#snapshots.set(version, {
      params: copy(trainer.params()),
      state: { step: state.step, m: copy(state.m), v: copy(state.v) },
    });
    for (const v of [...this.#snapshots.keys()].sort((a, b) => a - b).slice(0, -keep)) this.#snapshots.delete(v);
  }

  /** Restores the weights and optimizer state kept as `version`; false when it is no longer kept. */
  async rollback(version: number): Promise<boolean> {
    const { trainer } = await this.ready();
    const kept = this.#snapshots.get(version);
    if (kept === undefined) return false;
    this.#generation++;
    this.#frozenHashes.clear();
    trainer.setParams(kept.params);
    trainer.loadState(kept.state);
    return true;
  }

  async publish(name: string, version: number): Promise<number> {
    const { trainer } = await this.ready();
    return await publishVersion(name, version, new Map(Object.entries(trainer.params())), this.spec);
  }

  async save(dir: string): Promise<void> {
    const { trainer, config } = await this.ready();
    await saveSpecModel(dir, this.spec, config, new Map(Object.entries(trainer.params())));
    const state = trainer.state();
    const tensors = new Map<string, Tensor>();
    for (const [name, t] of Object.entries(state.m)) tensors.set(`m.${name}`, t);
    for (const [name, t] of Object.entries(state.v)) tensors.set(`v.${name}`, t);
    await writeSafetensors(`${dir}/optimizer.safetensors`, tensors, { metadata: { step: String(state.step) } });
  }

  async load(dir: string): Promise<number> {
    const { trainer, config } = await this.ready();
    this.#generation++;
    this.#frozenHashes.clear();
    trainer.setParams(toRecord(await loadWeights(dir, config)));
    const file = await readSafetensors(`${dir}/optimizer.safetensors`);
    const pick = (prefix: string) =>
      Object.fromEntries([...file.tensors].filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(2), t]));
    const step = Number(file.metadata.step);
    if (!Number.isInteger(step) || step < 0) {
      throw new RoleError(`Cannot load optimizer state from "${dir}": metadata step is ${file.metadata.step}`);
    }
    trainer.loadState({ step, m: pick("m."), v: pick("v.") });
    return step;
  }
}

/** What a policy learner trains: GRPO (the RL run) or next-token SFT (the warm-up). */
export interface PolicyLearnerSpec {
  policy: ModelSpec;
  objective: "grpo" | "sft";
  optim: OptimSpec;
  grpo?: { clipRatio: number; clipRatioC: number; klCoef: number };
}

/** One SFT example: the question is prompted as rollouts prompt it; the response tokens are the ones trained on. */
export interface SftExample {
  question: string;
  response: string;
}

// Log-probs may be NaN: a diverged policy samples with non-finite logits, and the update must then reach the
// Trainer, which skips it (reported as `update_skipped`), instead of failing validation with a less clear error.
const logprob = () => z.number().or(z.nan());
const SAMPLES = z.array(z.object({
  promptIds: z.array(z.number().int()).min(1),
  responseIds: z.array(z.number().int()),
  oldLogprobs: z.array(logprob()),
  refLogprobs: z.array(logprob()),
  advantage: z.number(),
})).min(1);

/** What both learners share: building the trainer, publishing weights, checkpoints. */
export class Learner {
  protected readonly core: LearnerCore;

  constructor(core: LearnerCore) {
    this.core = core;
  }

  /** Builds the trainer (loads the first weights); returns the optimizer step. */
  async init(): Promise<{ step: number }> {
    const { trainer } = await this.core.ready();
    return { step: trainer.stepCount };
  }

  /** Publishes the current weights as blob `name` tagged `version`; returns the bytes written. */
  async publish(name: string, version: number): Promise<number> {
    return await this.core.publish(name, version);
  }

  /**
   * The digest of the current (live) weights, for a colocated role's attestation: the run records it as the
   * version's digest where it would record a published one, and the colocated samples carry the same digest.
   */
  async liveDigest(): Promise<string> {
    return await this.core.inTurn(() => this.core.liveDigest());
  }

  /** Writes weights, HF config and optimizer state to `dir`. */
  async save(dir: string): Promise<void> {
    await this.core.save(dir);
  }

  /** Restores what `save` wrote; returns the optimizer step. */
  async load(dir: string): Promise<number> {
    return await this.core.load(dir);
  }
}

/** The policy learner (GRPO with PPO dual-clip and k3 KL; or SFT). */
export class PolicyLearner extends Learner {
  #generator: Generator | undefined;

  constructor(spec: PolicyLearnerSpec) {
    super(
      new LearnerCore(
        spec.policy,
        spec.optim,
        (config) =>
          spec.objective === "sft" ? lmTrainingLoss(config) : grpoTrainingLoss(config, {
            clipRatio: spec.grpo?.clipRatio,
            clipRatioC: spec.grpo?.clipRatioC,
            klCoef: spec.grpo?.klCoef,
          }),
      ),
    );
  }

  /**
   * Colocated rollout (`rollout.colocate`): samples the request with the learner's live weights, through the same
   * code path and seeded stream as the rollout actor. The weights are the current ones whatever `request.version`
   * says: the run config allows this only with `maxStaleness: 0`, where the driver asks for the current version.
   * Samples carry the live weights' digest ({@link Learner.liveDigest}), taken in the same turn as the sampling.
   */
  async rollout(request: RolloutRequest): Promise<RolloutSample[]> {
    const { tokenizer, codec } = await this.core.ready();
    return await this.core.inTurn(async () => {
      const digest = await this.core.liveDigest();
      const runtime = await this.core.liveRuntime();
      this.#generator ??= new Generator(runtime);
      return await sampleRollouts(this.#generator, { tokenizer, codec }, request, digest);
    });
  }

  /** One GRPO update over all samples (micro-batched). */
  async update(samples: GrpoSample[], lr?: number): Promise<UpdateReport> {
    const batches = await this.core.pack(samples, grpoLength, packGrpoBatch);
    return await this.core.step(batches, samples.length, lr);
  }

  /** One SFT step: next-token loss on the responses of `examples`. */
  async sftStep(examples: SftExample[], lr?: number): Promise<UpdateReport> {
    const { tokenizer, codec } = await this.core.ready();
    const rows = examples.map((e): GrpoSample => {
      const promptIds = codec.policyPrompt(e.question);
      const responseIds = tokenizer.encode(e.response, { addEos: true });
      const zeros = responseIds.map(() => 0);
      return { promptIds, responseIds, oldLogprobs: zeros, refLogprobs: zeros, advantage: 0 };
    });
    // packGrpoBatch owns the prompt/response alignment; its response mask is exactly SFT's loss mask.
    const batches = await this.core.pack(rows, grpoLength, (chunk, options) => {
      const packed = packGrpoBatch(chunk, options);
      return { input_ids: packed.input_ids!, attention_mask: packed.attention_mask!, loss_mask: packed.response_mask! };
    });
    return await this.core.step(batches, rows.length, lr);
  }
}
/** A GRPO row's packed length: prompt and response. */
function grpoLength(sample: GrpoSample): number {
  return sample.promptIds.length + sample.responseIds.length;
}

// Remote callers name dirs on the learner's host: saves go under the run roots, loads come from run or model roots.
const CHECKPOINT_METHODS = {
  save: { idempotent: true, args: z.tuple([rootedPath("learner save dir", ["runs"], "new")]) },
  load: { args: z.tuple([rootedPath("learner load dir", ["runs", "models"], "dir")]) },
};

registerActor(PolicyLearner, {
  methods: {
    update: { args: z.tuple([SAMPLES]).or(z.tuple([SAMPLES, z.number().positive()])) },
    rollout: { idempotent: true, args: ROLLOUT_ARGS },
    publish: { idempotent: true },
    liveDigest: { idempotent: true },
    ...CHECKPOINT_METHODS,
  },
});

/** What a reward learner trains: Cooper's pairwise update or VerifyRM BCE pretraining. */
export interface RewardLearnerSpec {
  rewardModel: ModelSpec;
  objective: "pairwise" | "bce";
  optim: OptimSpec;
  /** Parameters kept fixed: no gradient, no AdamW moments (e.g. the embedding table, ~1.6 GiB at 0.5B). */
  frozen?: string[];
}

/** The RM embedding table's parameter name (`rewardUpdate.freezeEmbedding`). */
export const EMBEDDING = "model.embed_tokens.weight";

/** The reward-model learner. */
export class RewardLearner extends Learner {
  constructor(spec: RewardLearnerSpec) {
    super(
      new LearnerCore(
        spec.rewardModel,
        spec.optim,
        (config) => spec.objective === "bce" ? bceTrainingLoss(config) : cooperTrainingLoss(config),
        spec.frozen,
      ),
    );
  }

  /**
   * Colocated RM scoring (`reward.colocate`): the reward actor's verdicts and RM scores, the RM scored with the
   * learner's live weights whatever version the request names (the current one; the RM is not published), with
   * their digest taken in the same turn.
   */
  async score(request: ScoreRequest): Promise<ScoreResult> {
    const verdicts = verdictsOf(request.items);
    if (request.rm === undefined) return { verdicts, scores: [] };
    const { codec } = await this.core.ready();
    return await this.core.inTurn(async () => {
      const rmDigest = await this.core.liveDigest();
      return { verdicts, scores: await rmScores(await this.core.liveRuntime(), codec, request.items), rmDigest };
    });
  }

  /**
   * One pairwise update: mean(−log σ(s+ − s−)) over the given (positive, negative) RM input texts. With an `anchor`
   * (labelled RM inputs and a weight w > 0) the one step minimises pairwise + w · BCE(anchor): each micro-batch's
   * loss is scaled so that the Trainer's mean over micro-batches is exactly that sum of the two means.
   */
  async updatePairs(
    pairs: { positive: string; negative: string }[],
    lr?: number,
    anchor?: { items: { input: string; label: number }[]; weight: number },
  ): Promise<UpdateReport> {
    const encode = await this.#encoder();
    const encoded = pairs.map((p) => ({ positive: encode(p.positive), negative: encode(p.negative) }));
    const batches = encoded.length === 0 ? [] : await this.core.pack(
      encoded,
      (p) => Math.max(p.positive.length, p.negative.length),
      packPairBatch,
    );
    // A remote caller's omitted argument arrives as null (msgpack has no undefined).
    if (!anchor || anchor.weight === 0 || anchor.items.length === 0) {
      return await this.core.step(batches, pairs.length, lr);
    }
    const labelled = await this.#labelledBatches(anchor.items);
    const k = batches.length + labelled.length;
    const weigh = (batch: Record<string, Tensor>, w: number) => ({
      ...batch,
      loss_weight: new Tensor("float32", [1], Float32Array.of(w)),
    });
    const all = [
      ...batches.map((b) => weigh(b, k / batches.length)),
      ...labelled.map((b) => weigh(b, (anchor.weight * k) / labelled.length)),
    ];
    return await this.core.step(all, pairs.length + anchor.items.length, lr);
  }

  /** One BCE step on (RM input text, label in [0, 1]) items. */
  async updateLabelled(items: { input: string; label: number }[], lr?: number): Promise<UpdateReport> {
    return await this.core.step(await this.#labelledBatches(items), items.length, lr);
  }

  async #labelledBatches(items: { input: string; label: number }[]): Promise<Record<string, Tensor>[]> {
    const encode = await this.#encoder();
    const encoded = items.map((it) => ({ ids: encode(it.input), label: it.label }));
    return await this.core.pack(encoded, (it) => it.ids.length, packLabelledBatch);
  }

  /** Keeps the current RM as `version` for a later {@link rollback} (the newest `keep` versions are kept). */
  async snapshot(version: number, keep: number): Promise<void> {
    await this.core.snapshot(version, keep);
  }

  /** Restores the RM kept as `version` (weights and optimizer state); false when it is no longer kept. */
  async rollback(version: number): Promise<boolean> {
    return await this.core.rollback(version);
  }

  /** RM input texts to ids, truncated as the reward actor truncates them. */
  async #encoder(): Promise<(text: string) => number[]> {
    const { config, codec } = await this.core.ready();
    return (text) => codec.rmInput(text, config.maxPositionEmbeddings);
  }
}
registerActor(RewardLearner, {
  methods: { publish: { idempotent: true }, score: { idempotent: true, args: SCORE_ARGS }, ...CHECKPOINT_METHODS },
});
