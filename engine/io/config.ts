/**
 * Hugging Face `config.json` for Llama/Qwen2 decoders, normalised into one camelCase shape the model builder reads.
 * Accepts transformers 4 configs (`rope_theta` at the top level, as Qwen2.5 ships) and transformers 5 configs
 * (`rope_parameters: {rope_theta, rope_type}`).
 */
import { CoopError } from "../../shared/mod.ts";

/** The architecture families the decoder implements. */
export type ModelFamily = "llama" | "qwen2";

/** A decoder's hyper-parameters, independent of where they came from. */
export interface DecoderConfig {
  family: ModelFamily;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** RoPE frequency scaling ("linear" or Llama 3's "llama3"); null for plain RoPE. */
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (always in Qwen2; `attention_bias` in Llama). */
  qkvBias: boolean;
  /** o_proj carries a bias (`attention_bias` in Llama; never in Qwen2). */
  oBias: boolean;
  /** gate/up/down projections carry a bias (`mlp_bias` in Llama). */
  mlpBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** Number of score-head outputs for `...ForSequenceClassification`; null for causal LMs. */
  numLabels: number | null;
}

/** RoPE scaling variants that only rescale the inverse frequencies (no attention-factor change). */
export type RopeScaling =
  | { type: "linear"; factor: number }
  | {
    type: "llama3";
    factor: number;
    lowFreqFactor: number;
    highFreqFactor: number;
    originalMaxPositionEmbeddings: number;
  };

/** Raised when a config.json is malformed or describes something the decoder does not implement. */
export class ModelConfigError extends CoopError {
  override name = "ModelConfigError";
}

type Json = Record<string, unknown>;

function num(config: Json, key: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ModelConfigError(`Invalid model config: "${key}" must be a number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function int(config: Json, key: string, fallback?: number): number {
  const value = num(config, key, fallback);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ModelConfigError(`Invalid model config: "${key}" must be a positive integer, got ${value}`);
  }
  return value;
}

function optionalId(value: unknown, key: string): number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  throw new ModelConfigError(`Invalid model config: "${key}" must be an integer or null, got ${JSON.stringify(value)}`);
}

function ropeParams(config: Json): Json | null {
  const params = config.rope_parameters ?? config.rope_scaling;
  return params === null || params === undefined ? null : params as Json;
}

function ropeTheta(config: Json): number {
  const params = ropeParams(config);
  if (params?.rope_theta !== undefined) return num(params, "rope_theta");
  return num(config, "rope_theta", 10000);
}

function ropeScaling(config: Json): RopeScaling | null {
  const p = ropeParams(config);
  const type = p?.rope_type ?? p?.type ?? "default";
  if (p === null || type === "default") return null;
  if (type === "linear") return { type, factor: num(p, "factor") };
  if (type === "llama3") {
    return {
      type,
      factor: num(p, "factor"),
      lowFreqFactor: num(p, "low_freq_factor"),
      highFreqFactor: num(p, "high_freq_factor"),
      originalMaxPositionEmbeddings: int(p, "original_max_position_embeddings"),
    };
  }
  throw new ModelConfigError(
    `Unsupported model config: rope_type "${String(type)}" (implemented: "default", "linear", "llama3")`,
  );
}

/** Parses a config.json object (as `JSON.parse` returns it) into a {@link DecoderConfig}. */
export function parseDecoderConfig(json: unknown): DecoderConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ModelConfigError("Invalid model config: expected a JSON object");
  }
  const config = json as Json;
  const modelType = config.model_type;
  if (modelType !== "llama" && modelType !== "qwen2") {
    throw new ModelConfigError(
      `Unsupported model config: model_type ${JSON.stringify(modelType)} (expected "llama" or "qwen2")`,
    );
  }
  const act = config.hidden_act ?? "silu";
  if (act !== "silu") {
    throw new ModelConfigError(`Unsupported model config: hidden_act "${String(act)}" (expected "silu")`);
  }
  if (config.use_sliding_window === true) {
    throw new ModelConfigError(
      "Unsupported model config: use_sliding_window is true (sliding-window attention is not implemented)",
    );
  }
  const hiddenSize = int(config, "hidden_size");
  const numHeads = int(config, "num_attention_heads");
  const numKvHeads = int(config, "num_key_value_heads", numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ModelConfigError(
      `Invalid model config: num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`,
    );
  }
  const headDim = config.head_dim === null || config.head_dim === undefined
    ? hiddenSize / numHeads
    : int(config, "head_dim");
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ModelConfigError(`Invalid model config: head_dim ${headDim} must be an even integer`);
  }
  const eos = config.eos_token_id;
  const eosTokenIds = eos === null || eos === undefined
    ? []
    : Array.isArray(eos)
    ? eos.map((id, i) => optionalId(id, `eos_token_id[${i}]`)!)
    : [optionalId(eos, "eos_token_id")!];
  const architectures = Array.isArray(config.architectures) ? config.architectures as string[] : [];
  const isClassifier = architectures.some((name) => name.endsWith("ForSequenceClassification"));
  let numLabels: number | null = null;
  if (isClassifier) {
    numLabels = config.num_labels !== undefined
      ? int(config, "num_labels")
      : config.id2label && typeof config.id2label === "object"
      ? Object.keys(config.id2label).length
      : 2;
  }
  const attentionBias = config.attention_bias === true;
  return {
    family: modelType,
    vocabSize: int(config, "vocab_size"),
    hiddenSize,
    numLayers: int(config, "num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: int(config, "intermediate_size"),
    rmsNormEps: num(config, "rms_norm_eps", 1e-6),
    ropeTheta: ropeTheta(config),
    ropeScaling: ropeScaling(config),
    maxPositionEmbeddings: int(config, "max_position_embeddings", 2048),
    tieWordEmbeddings: config.tie_word_embeddings === true,
    qkvBias: modelType === "qwen2" ? true : attentionBias,
    oBias: modelType === "qwen2" ? false : attentionBias,
    mlpBias: modelType === "llama" && config.mlp_bias === true,
    bosTokenId: optionalId(config.bos_token_id, "bos_token_id"),
    eosTokenIds,
    padTokenId: optionalId(config.pad_token_id, "pad_token_id"),
    numLabels,
  };
}

/** Reads and parses `<dir>/config.json`. */
export async function readDecoderConfig(path: string): Promise<DecoderConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ModelConfigError(`Cannot read model config ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ModelConfigError(`Cannot read model config ${path}: not JSON (${(error as Error).message})`);
  }
  return parseDecoderConfig(json);
}

/** Writes a config in transformers 4 layout (top-level `rope_theta`), which both transformers 4 and 5 load. */
export function toHfConfig(config: DecoderConfig): Record<string, unknown> {
  const classifier = config.numLabels !== null;
  const arch = config.family === "qwen2" ? "Qwen2" : "Llama";
  const out: Record<string, unknown> = {
    architectures: [`${arch}For${classifier ? "SequenceClassification" : "CausalLM"}`],
    model_type: config.family,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    intermediate_size: config.intermediateSize,
    hidden_act: "silu",
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: ropeScalingJson(config.ropeScaling),
    max_position_embeddings: config.maxPositionEmbeddings,
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds,
    pad_token_id: config.padTokenId,
    torch_dtype: "float32",
  };
  if (config.family === "llama") {
    if (config.qkvBias !== config.oBias) {
      throw new ModelConfigError("Cannot write a Llama config whose q/k/v and o_proj biases differ");
    }
    out.attention_bias = config.qkvBias;
    out.mlp_bias = config.mlpBias;
  } else if (!config.qkvBias || config.oBias || config.mlpBias) {
    throw new ModelConfigError("Cannot write a Qwen2 config without q/k/v bias or with o_proj/MLP bias");
  }
  if (classifier) {
    out.num_labels = config.numLabels;
    out.id2label = Object.fromEntries(Array.from({ length: config.numLabels! }, (_, i) => [String(i), `LABEL_${i}`]));
    out.label2id = Object.fromEntries(Array.from({ length: config.numLabels! }, (_, i) => [`LABEL_${i}`, i]));
  }
  return out;
}

function ropeScalingJson(scaling: RopeScaling | null): Record<string, unknown> | null {
  if (scaling === null) return null;
  if (scaling.type === "linear") return { rope_type: "linear", factor: scaling.factor };
  return {
    rope_type: "llama3",
    factor: scaling.factor,
    low_freq_factor: scaling.lowFreqFactor,
    high_freq_factor: scaling.highFreqFactor,
    original_max_position_embeddings: scaling.originalMaxPositionEmbeddings,
  };
}
