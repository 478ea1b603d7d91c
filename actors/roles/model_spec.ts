/**
 * What every role actor needs to hold a model: a serialisable spec (HF config, tokenizer, where the first weights
 * come from), the tokenizer and config built from it, and versioned weights in the cluster's Object Store. Weights
 * travel as safetensors bytes under names like `<run>.policy.v12`, tagged with their version, so an actor asked for
 * version 12 can check it got exactly that.
 */
import { dirname } from "node:path";
import {
  castWeights,
  completeCheckpoint,
  parseDecoderConfig,
  parseSafetensors,
  type SaveDtype,
  serializeSafetensors,
} from "../../engine/io/mod.ts";
import type { DecoderConfig } from "../../engine/io/mod.ts";
import {
  checkWeights,
  initWeights,
  loadWeights,
  ModelRuntime,
  parameterCount,
  saveModel,
  type Weights,
} from "../../engine/models/mod.ts";
import { CharTokenizer, loadHfTokenizer, type TextTokenizer } from "../../engine/tokenizers/mod.ts";
import { CoopError } from "../../shared/mod.ts";
import type { SessionOptions } from "../../engine/session/mod.ts";
import type { Tensor } from "../../shared/mod.ts";
import type { BlobStore } from "../../shared/mod.ts";
import { TASK_ALPHABET } from "../../rl/tasks/mod.ts";
import { actorContext } from "../core/mod.ts";
import { keepEnd, PromptCodec, type PromptOptions, stopTokensOf } from "./prompts.ts";
import {
  digestBytes,
  type LoadedVia,
  planeFromEnv,
  type WeightDtype,
  type WeightPlane,
  weightsBlobName,
} from "../weights/mod.ts";

/** Where a model's first weights come from. */
export type WeightSource =
  | { kind: "random"; seed: number }
  | { kind: "checkpoint"; dir: string }
  | { kind: "blob"; name: string; version?: number };

/** A model as role actors receive it (msgpack-friendly). */
export interface ModelSpec {
  /** HF `config.json` content. */
  hfConfig: Record<string, unknown>;
  /** `char` (the task alphabet) or a HF tokenizer folder (or the path of its `tokenizer.json`). */
  tokenizer: string;
  weights: WeightSource;
  /** How prompts are built (chat template, system prompt); default: the checkpoint's template when it has one. */
  prompt?: PromptOptions;
  /** The dtype saved checkpoints store weights in. Default float32. */
  saveDtype?: SaveDtype;
  /** Precision weight versions travel in (default float32; bf16/fp16 halve the bytes, widened again on load). */
  transferDtype?: WeightDtype;
}

/** Raised when a role actor is handed weights or state that do not fit its model (wrong version, bad checkpoint). */
export class RoleError extends CoopError {
  override name = "RoleError";
}

/** Loads the tokenizer a spec names. */
export async function loadTokenizer(name: string): Promise<TextTokenizer> {
  if (name === "char") return new CharTokenizer(TASK_ALPHABET);
  return await loadHfTokenizer(tokenizerDir(name));
}

/** A checkpoint folder's `generation_config.json`, or `{}` when it has none. */
export async function readGenerationConfig(dir: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/generation_config.json`));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    throw new RoleError(`Cannot read ${dir}/generation_config.json: ${(error as Error).message}`);
  }
}

/** The tokenizer, prompt format and stop tokens of a spec. */
export async function loadPromptCodec(spec: ModelSpec, config: DecoderConfig = configOf(spec)): Promise<PromptCodec> {
  const tokenizer = await loadTokenizer(spec.tokenizer);
  const generation = spec.weights.kind === "checkpoint" ? await readGenerationConfig(spec.weights.dir) : {};
  return new PromptCodec(tokenizer, { prompt: spec.prompt, stopTokens: stopTokensOf(config, tokenizer, generation) });
}

/**
 * Saves a model of `spec` as a folder transformers loads unchanged: weights (in `spec.saveDtype`), config.json,
 * the tokenizer files, and generation_config.json (the source checkpoint's, for causal LMs).
 */
export async function saveSpecModel(
  dir: string,
  spec: ModelSpec,
  config: DecoderConfig,
  weights: ReadonlyMap<string, Tensor>,
): Promise<void> {
  const dtype = spec.saveDtype ?? "float32";
  await saveModel(dir, config, castWeights(weights, dtype));
  const source = spec.weights.kind === "checkpoint" ? spec.weights.dir : null;
  await completeCheckpoint(dir, config, {
    tokenizerDir: spec.tokenizer === "char" ? null : tokenizerDir(spec.tokenizer),
    generationConfig: source === null || source === dir ? {} : await readGenerationConfig(source),
    dtype,
  });
}

function tokenizerDir(name: string): string {
  // Configs may name the tokenizer.json itself or the checkpoint dir holding it.
  return name.endsWith(".json") ? dirname(name) : name;
}

/** The decoder config of a spec. */
export function configOf(spec: ModelSpec): DecoderConfig {
  return parseDecoderConfig(spec.hfConfig);
}

/** The HF config of a fresh tiny Llama for a char tokenizer (policy: causal LM; reward model: 1-label classifier). */
export function tinyHfConfig(
  model: { dModel: number; nLayers: number; nHeads: number; dFF: number; maxSeqLen: number },
  options: { classifier: boolean; tokenizer?: TextTokenizer },
): Record<string, unknown> {
  const tok = options.tokenizer ?? new CharTokenizer(TASK_ALPHABET);
  return {
    model_type: "llama",
    architectures: [options.classifier ? "LlamaForSequenceClassification" : "LlamaForCausalLM"],
    vocab_size: tok.vocabSize,
    hidden_size: model.dModel,
    num_hidden_layers: model.nLayers,
    num_attention_heads: model.nHeads,
    num_key_value_heads: model.nHeads,
    intermediate_size: model.dFF,
    max_position_embeddings: model.maxSeqLen,
    tie_word_embeddings: !options.classifier,
    rope_theta: 10000,
    rms_norm_eps: 1e-6,
    bos_token_id: tok.bosId,
    eos_token_id: tok.eosId,
    pad_token_id: tok.padId,
    ...(options.classifier ? { num_labels: 1 } : {}),
  };
}

/** The cluster's blob store, seen from inside an actor. */
export async function actorBlobs(): Promise<BlobStore> {
  const cluster = actorContext().cluster;
  return await cluster.transport.blobs(cluster.subjects.blobBucket);
}

/** Weights as safetensors bytes (metadata carries the version). */
export function encodeWeights(weights: ReadonlyMap<string, Tensor>, version: number): Uint8Array {
  return serializeSafetensors(weights, { metadata: { format: "pt", version: String(version) } });
}

/** Publishes weights under `name`, tagged with `version`; returns the byte size. */
export async function publishWeights(
  blobs: BlobStore,
  name: string,
  weights: ReadonlyMap<string, Tensor>,
  version: number,
): Promise<number> {
  const bytes = encodeWeights(weights, version);
  await blobs.put(name, bytes, { version: String(version) });
  return bytes.byteLength;
}

/** Reads weights published under `name`, checks the version tag (when given) and the config. */
export async function fetchWeights(
  blobs: BlobStore,
  name: string,
  config: DecoderConfig,
  version?: number,
): Promise<Weights> {
  const { info, data } = await blobs.get(name);
  if (version !== undefined && info.version !== String(version)) {
    throw new RoleError(`Blob "${name}" holds version ${info.version ?? "none"}, expected ${version}`);
  }
  return checkWeights(config, parseSafetensors(data, { source: `blob "${name}"` }).tensors, {
    source: `blob "${name}"`,
  });
}

let plane: WeightPlane | undefined;

/** This actor process's weight data plane (configured by its agent through the environment). */
export function actorPlane(): WeightPlane {
  const cluster = actorContext().cluster;
  plane ??= planeFromEnv(cluster.subjects.cluster, cluster.transport, cluster.subjects.blobBucket);
  return plane;
}

/** Publishes weights as version `version` under `name` through the data plane; returns the bytes published. */
export async function publishVersion(
  name: string,
  version: number,
  weights: ReadonlyMap<string, Tensor>,
  spec: ModelSpec,
): Promise<number> {
  const variants = await actorPlane().publish(name, version, weights, { dtypes: [spec.transferDtype ?? "float32"] });
  return variants.reduce((n, v) => n + v.bytes, 0);
}

/** Weights of one version, the digest of the bytes they were loaded from, and how they came. */
export interface LoadedVersion {
  weights: Weights;
  digest: string;
  via: LoadedVia | "blob";
  /** Unmaps the segment `weights` view (no-op when they are copies): call it once the version is replaced. */
  release(): void;
}

/**
 * Loads version `version` published under `name`: through the data plane when it was published there (digest
 * checked against its control record), else straight from the Object Store (digest computed and reported).
 */
export async function loadVersion(
  name: string,
  config: DecoderConfig,
  version: number,
  dtype: WeightDtype = "float32",
): Promise<LoadedVersion> {
  const plane = actorPlane();
  // A consumer asking for bf16 of a version published only in float32 still gets it, in float32.
  const manifest = (await plane.manifest(name, dtype)) ??
    (dtype === "float32" ? null : await plane.manifest(name, "float32"));
  if (manifest !== null) {
    const loaded = await plane.load(name, manifest.dtype);
    const file = parseSafetensors(loaded.data, { source: `weight version "${name}"` });
    if (file.metadata.version !== String(version)) {
      throw new RoleError(
        `Weight version "${name}" holds version ${file.metadata.version ?? "none"}, expected ${version}`,
      );
    }
    const weights = checkWeights(config, file.tensors, { source: `weight version "${name}"` });
    // Widened (bf16/fp16) weights are copies: the mapped segment can go right away.
    if (![...weights.values()].some((t) => t.data.buffer === loaded.data.buffer)) loaded.release();
    return { weights, digest: loaded.digest, via: loaded.via, release: loaded.release };
  }
  const { data } = await (await actorBlobs()).get(name);
  const file = parseSafetensors(data, { source: `blob "${name}"` });
  if (file.metadata.version !== undefined && file.metadata.version !== String(version)) {
    throw new RoleError(`Blob "${name}" holds version ${file.metadata.version}, expected ${version}`);
  }
  const weights = checkWeights(config, file.tensors, { source: `blob "${name}"` });
  return { weights, digest: (await digestBytes(data)).digest, via: "blob", release: () => {} };
}

/** The first weights of a spec (fresh init, a checkpoint dir, or a blob). */
export async function initialWeights(spec: ModelSpec, config: DecoderConfig): Promise<Weights> {
  const source = spec.weights;
  if (source.kind === "random") return initWeights(config, { seed: source.seed });
  if (source.kind === "checkpoint") return await loadWeights(source.dir, config);
  return await fetchWeights(await actorBlobs(), source.name, config, source.version);
}

/** Intra-op threads for this actor's sessions: the CPU budget its agent gave it. */
export function actorThreads(): number {
  const threads = Number(Deno.env.get("COOP_THREADS") ?? "1");
  return Number.isInteger(threads) && threads > 0 ? threads : 1;
}

/**
 * Session options for this actor: its CPU thread budget, and the `cuda` provider when its agent gave it GPUs
 * (`CUDA_VISIBLE_DEVICES`, device 0 is then its first GPU). `COOP_EXECUTION_PROVIDER=cpu` keeps a GPU actor on CPU.
 */
export function actorSession(config?: DecoderConfig): SessionOptions {
  const gpus = (Deno.env.get("CUDA_VISIBLE_DEVICES") ?? "").trim();
  const forced = Deno.env.get("COOP_EXECUTION_PROVIDER");
  const provider = forced === "cpu" || forced === "cuda" ? forced : gpus !== "" && gpus !== "-1" ? "cuda" : "cpu";
  const large = config !== undefined && parameterCount(config) >= LARGE_MODEL_PARAMS;
  // onnxruntime's CPU arena keeps every run's activation peak resident; for a large model that is GiBs per process
  // (a 0.5B cluster run: policy learner 11.3 GiB with it, see bench/out/real_cluster.json), so it is off there.
  return { intraOpThreads: actorThreads(), executionProvider: provider, ...(large ? NO_ARENA : {}) };
}

/** Models from this many parameters run their sessions without the CPU memory arena (see {@link actorSession}). */
export const LARGE_MODEL_PARAMS = 100_000_000;
const NO_ARENA = { memArena: false, memPattern: false } as const;

/** Plain record of tensors, as the Trainer takes them. */
export function toRecord(weights: ReadonlyMap<string, Tensor>): Record<string, Tensor> {
  return Object.fromEntries(weights);
}

/**
 * A model whose weights follow the versioned blobs `<prefix>.v<N>`: the runtime and tokenizer are built on first
 * use, and the weights are fetched again only when a call asks for another version.
 */
export class VersionedModel {
  readonly #spec: ModelSpec;
  readonly #name: string;
  #runtime: ModelRuntime | undefined;
  #codec: PromptCodec | undefined;
  #version = -1;
  #digest = "";
  #release: () => void = () => {};

  constructor(spec: ModelSpec, name: string) {
    this.#spec = spec;
    this.#name = name;
  }

  /** The version loaded (-1 before the first call). */
  get version(): number {
    return this.#version;
  }

  /** SHA-256 digest (hash list) of the loaded version's bytes, checked on load ("" before the first call). */
  get digest(): string {
    return this.#digest;
  }

  /** The runtime holding version `version` of `blobPrefix`, the tokenizer and its prompt codec. */
  async at(
    blobPrefix: string,
    version: number,
  ): Promise<{ runtime: ModelRuntime; tokenizer: TextTokenizer; codec: PromptCodec }> {
    if (this.#runtime === undefined) {
      this.#codec = await loadPromptCodec(this.#spec);
      const config = configOf(this.#spec);
      this.#runtime = new ModelRuntime(config, { name: this.#name, session: actorSession(config) });
    }
    if (this.#version !== version) {
      const name = weightsBlobName(blobPrefix, version);
      const loaded = await loadVersion(name, this.#runtime.config, version, this.#spec.transferDtype);
      this.#runtime.setWeights(loaded.weights);
      // The old version's segment is unmapped now, not whenever the collector gets to it. Safe because role
      // actors run one call at a time (maxConcurrency 1): no call still computes with the old weights.
      this.#release();
      this.#release = loaded.release;
      this.#version = version;
      this.#digest = loaded.digest;
    }
    return { runtime: this.#runtime, tokenizer: this.#codec!.tokenizer, codec: this.#codec! };
  }
}

/** Token ids of an RM input text without a chat template; past `maxLen` the start is cut (a BOS kept). */
export function encodeRmInput(tokenizer: TextTokenizer, text: string, maxLen: number): number[] {
  const ids = tokenizer.encode(text, { addBos: true });
  return keepEnd(ids, maxLen, tokenizer.bosId !== null && ids[0] === tokenizer.bosId ? 1 : 0);
}
