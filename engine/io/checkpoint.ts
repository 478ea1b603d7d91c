/**
 * What turns a weights + config.json folder into one transformers (and vLLM) load unchanged: the tokenizer files,
 * a `generation_config.json` for causal LMs, and the weights' dtype recorded in config.json. Weights can be stored
 * as bfloat16 or float16 (round to nearest even), halving the files; the engine computes in float32 either way.
 */
import { CoopError } from "../../shared/mod.ts";
import { Tensor } from "../../shared/mod.ts";
import type { DecoderConfig } from "./config.ts";

/** Raised when a checkpoint cannot be completed (an unreadable tokenizer file, a bad dtype). */
export class CheckpointWriteError extends CoopError {
  override name = "CheckpointWriteError";
}

/** Float dtypes a checkpoint can be saved in. */
export type SaveDtype = "float32" | "bfloat16" | "float16";

/** The files of a Hugging Face tokenizer folder that a checkpoint carries along when present. */
export const TOKENIZER_FILE_NAMES = [
  "tokenizer.json",
  "tokenizer_config.json",
  "chat_template.jinja",
  "special_tokens_map.json",
  "vocab.json",
  "merges.txt",
] as const;

/** Options for {@link completeCheckpoint}. */
export interface CompleteCheckpointOptions {
  /** A HF tokenizer folder whose files are copied in; null for the char tokenizer (nothing to copy). */
  tokenizerDir: string | null;
  /** The source checkpoint's `generation_config.json` (sampling defaults, extra eos ids) to carry over. */
  generationConfig?: Record<string, unknown>;
  /** The dtype the weights were written in. Default float32. */
  dtype?: SaveDtype;
}

/** Adds tokenizer files, `generation_config.json` (causal LMs) and the weights' dtype to a saved model folder. */
export async function completeCheckpoint(
  dir: string,
  config: DecoderConfig,
  options: CompleteCheckpointOptions,
): Promise<string[]> {
  const written: string[] = [];
  if (options.tokenizerDir !== null) {
    for (const name of TOKENIZER_FILE_NAMES) {
      if (await copyIfPresent(`${options.tokenizerDir}/${name}`, `${dir}/${name}`)) written.push(name);
    }
  }
  const dtype = options.dtype ?? "float32";
  const hfConfig = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  // transformers 4 reads torch_dtype, 5 reads dtype; both are written so either picks the stored precision.
  Object.assign(hfConfig, { torch_dtype: dtype, dtype });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(hfConfig, null, 2) + "\n");
  if (config.numLabels === null) {
    await Deno.writeTextFile(
      `${dir}/generation_config.json`,
      JSON.stringify(generationConfigOf(config, options.generationConfig ?? {}), null, 2) + "\n",
    );
    written.push("generation_config.json");
  }
  return written;
}

/** A causal LM's generation_config.json: the source's settings, with the model's special ids filled in. */
export function generationConfigOf(
  config: DecoderConfig,
  source: Record<string, unknown> = {},
): Record<string, unknown> {
  const eos = config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds;
  return {
    ...(config.bosTokenId === null ? {} : { bos_token_id: config.bosTokenId }),
    ...(config.eosTokenIds.length === 0 ? {} : { eos_token_id: eos }),
    ...(config.padTokenId === null ? {} : { pad_token_id: config.padTokenId }),
    ...source,
  };
}

async function copyIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await Deno.copyFile(from, to);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw new CheckpointWriteError(`Cannot copy ${from} into the checkpoint: ${(error as Error).message}`);
  }
}

/** Weights converted to `dtype` (float32 tensors rounded to nearest even; others returned as they are). */
export function castWeights(weights: ReadonlyMap<string, Tensor>, dtype: SaveDtype): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, tensor] of weights) {
    out.set(name, dtype === "float32" || tensor.dtype !== "float32" ? tensor : fromFloat32(tensor, dtype));
  }
  return out;
}

/** A float32 tensor as bfloat16 or float16, rounded to nearest even as torch's `.to()` does. */
export function fromFloat32(tensor: Tensor, dtype: "bfloat16" | "float16"): Tensor {
  if (tensor.dtype !== "float32") throw new CheckpointWriteError(`Cannot convert a ${tensor.dtype} tensor to ${dtype}`);
  const source = tensor.data as Float32Array;
  const words = new Uint16Array(source.length);
  if (dtype === "bfloat16") {
    const bits = new Uint32Array(source.buffer, source.byteOffset, source.length);
    for (let i = 0; i < bits.length; i++) words[i] = floatToBfloat16(bits[i]!);
  } else {
    for (let i = 0; i < source.length; i++) words[i] = floatToHalf(source[i]!);
  }
  return new Tensor(dtype, tensor.shape, words);
}

function floatToBfloat16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x0040) & 0xffff; // NaN stays a quiet NaN
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

function floatToHalf(value: number): number {
  F32[0] = value;
  const bits = U32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow: infinity
  if (e <= 0) {
    if (e < -10) return sign; // underflow: signed zero
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && (half & 1)) ? 1 : 0));
  }
  const half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // Rounding may carry into the exponent, which is the correct next value (up to infinity).
  return sign | (half + (rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? 1 : 0));
}
