/**
 * The decoder's parameters under Hugging Face names (`model.layers.0.self_attn.q_proj.weight`, ...), so a
 * transformers checkpoint loads unchanged: checking a checkpoint against the config, random initialisation and
 * saving back to `model.safetensors` + `config.json`.
 */
import { CoopError } from "../../shared/mod.ts";
import { Tensor } from "../../shared/mod.ts";
import { type DecoderConfig, readSafetensors, toFloat32, toHfConfig, writeSafetensors } from "../io/mod.ts";
import { fillNormal } from "./init.ts";

/** One parameter's HF name and shape. */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** How a fresh model initialises it: normal(0, 0.02), ones (norm gains) or zeros (biases). */
  init: "normal" | "ones" | "zeros";
}

/** A model's weights by HF name, all float32. */
export type Weights = Map<string, Tensor<"float32">>;

/** Raised when a checkpoint does not fit the config: names every missing, extra and mis-shaped tensor. */
export class CheckpointError extends CoopError {
  override name = "CheckpointError";
}

/** The parameters a config implies, in HF order (embeddings, layers, final norm, head). */
export function parameterSpecs(config: DecoderConfig): ParamSpec[] {
  const h = config.hiddenSize;
  const qDim = config.numHeads * config.headDim;
  const kvDim = config.numKvHeads * config.headDim;
  const specs: ParamSpec[] = [{ name: "model.embed_tokens.weight", shape: [config.vocabSize, h], init: "normal" }];
  const linear = (name: string, out: number, inp: number, bias: boolean) => {
    specs.push({ name: `${name}.weight`, shape: [out, inp], init: "normal" });
    if (bias) specs.push({ name: `${name}.bias`, shape: [out], init: "zeros" });
  };
  for (let i = 0; i < config.numLayers; i++) {
    const p = `model.layers.${i}`;
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [h], init: "ones" });
    linear(`${p}.self_attn.q_proj`, qDim, h, config.qkvBias);
    linear(`${p}.self_attn.k_proj`, kvDim, h, config.qkvBias);
    linear(`${p}.self_attn.v_proj`, kvDim, h, config.qkvBias);
    linear(`${p}.self_attn.o_proj`, h, qDim, config.oBias);
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [h], init: "ones" });
    linear(`${p}.mlp.gate_proj`, config.intermediateSize, h, config.mlpBias);
    linear(`${p}.mlp.up_proj`, config.intermediateSize, h, config.mlpBias);
    linear(`${p}.mlp.down_proj`, h, config.intermediateSize, config.mlpBias);
  }
  specs.push({ name: "model.norm.weight", shape: [h], init: "ones" });
  if (config.numLabels !== null) {
    specs.push({ name: "score.weight", shape: [config.numLabels, h], init: "normal" });
  } else if (!config.tieWordEmbeddings) {
    specs.push({ name: "lm_head.weight", shape: [config.vocabSize, h], init: "normal" });
  }
  return specs;
}

/** Total number of scalar parameters. */
export function parameterCount(config: DecoderConfig): number {
  return parameterSpecs(config).reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1), 0);
}

/**
 * Checks `tensors` against the config and returns them as float32 weights in spec order. Every problem is listed
 * in one error. A tied model's redundant `lm_head.weight` (some exporters write it) is dropped.
 */
export function checkWeights(
  config: DecoderConfig,
  tensors: ReadonlyMap<string, Tensor>,
  options: { source?: string } = {},
): Weights {
  const specs = parameterSpecs(config);
  const expected = new Set(specs.map((spec) => spec.name));
  const missing: string[] = [];
  const misShaped: string[] = [];
  const weights: Weights = new Map();
  for (const spec of specs) {
    const tensor = tensors.get(spec.name);
    if (tensor === undefined) {
      missing.push(spec.name);
    } else if (tensor.shape.length !== spec.shape.length || tensor.shape.some((d, i) => d !== spec.shape[i])) {
      misShaped.push(`${spec.name} is [${tensor.shape.join(", ")}], expected [${spec.shape.join(", ")}]`);
    } else if (!["float32", "float16", "bfloat16", "float64"].includes(tensor.dtype)) {
      misShaped.push(`${spec.name} has dtype ${tensor.dtype}, expected a float type`);
    } else {
      weights.set(spec.name, toFloat32(tensor));
    }
  }
  const tiedHead = config.tieWordEmbeddings && config.numLabels === null;
  const extra = [...tensors.keys()].filter((name) => !expected.has(name) && !(tiedHead && name === "lm_head.weight"));
  if (missing.length + misShaped.length + extra.length > 0) {
    const parts = [];
    if (missing.length) parts.push(`missing ${missing.join(", ")}`);
    if (extra.length) parts.push(`unexpected ${extra.join(", ")}`);
    if (misShaped.length) parts.push(`mis-shaped ${misShaped.join("; ")}`);
    throw new CheckpointError(`Checkpoint ${options.source ?? ""} does not fit the model config: ${parts.join("; ")}`);
  }
  return weights;
}

/** Fresh weights: normal(0, std) matrices, unit norm gains, zero biases; deterministic for a seed. */
export function initWeights(config: DecoderConfig, options: { seed?: number; std?: number } = {}): Weights {
  const seed = options.seed ?? 0;
  const std = options.std ?? 0.02;
  const weights: Weights = new Map();
  parameterSpecs(config).forEach((spec, index) => {
    const data = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
    if (spec.init === "ones") data.fill(1);
    // One stream per tensor (seed, index): a tensor's values do not depend on the shapes before it.
    else if (spec.init === "normal") {
      fillNormal(data, Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b), std);
    }
    weights.set(spec.name, new Tensor("float32", spec.shape, data));
  });
  return weights;
}

/** Loads `<dir>/model.safetensors` and checks it against `config`. */
export async function loadWeights(dir: string, config: DecoderConfig): Promise<Weights> {
  const path = `${dir}/model.safetensors`;
  const file = await readSafetensors(path);
  return checkWeights(config, file.tensors, { source: path });
}

/** Writes `<dir>/model.safetensors` and `<dir>/config.json` in HF layout. */
export async function saveModel(
  dir: string,
  config: DecoderConfig,
  weights: ReadonlyMap<string, Tensor>,
): Promise<void> {
  checkWeights(config, weights);
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(`${dir}/model.safetensors`, weights, { metadata: { format: "pt" } });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(toHfConfig(config), null, 2) + "\n");
}
