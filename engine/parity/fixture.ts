/**
 * Reader for reference-fixture folders (the layout of `tests/fixtures/hf`): config.json, model.safetensors,
 * inputs.json, expected.safetensors and optionally grads.safetensors.
 */
import { CoopError } from "../../shared/mod.ts";
import type { Tensor } from "../../shared/mod.ts";
import { type DecoderConfig, readDecoderConfig, readSafetensors } from "../io/mod.ts";
import { loadWeights, type Weights } from "../models/mod.ts";

/**
 * Where the Hugging Face reference fixtures live: `COOP_HF_FIXTURES`, else `tests/fixtures/hf` in the repository
 * (committed, so a plain clone tests itself).
 */
export function hfFixturesDir(): string {
  return Deno.env.get("COOP_HF_FIXTURES") ?? new URL("../../tests/fixtures/hf", import.meta.url).pathname;
}

/** A loaded fixture folder. */
export interface Fixture {
  dir: string;
  /** "causal" for ...ForCausalLM folders, "reward" for ...ForSequenceClassification. */
  kind: "causal" | "reward";
  config: DecoderConfig;
  weights: Weights;
  inputIds: number[][];
  attentionMask: number[][];
  /** Given for causal fixtures; otherwise positions are 0..T-1. */
  positionIds: number[][] | null;
  greedyNewTokens: number[][] | null;
  /** `logits`, `token_logprobs`, `loss` (causal) or `scores`, `loss` (reward). */
  expected: Map<string, Tensor>;
  /** d loss / d parameter by HF name, when the folder has grads.safetensors. */
  grads: Map<string, Tensor> | null;
}

/** Raised when a fixture folder is incomplete or inconsistent. */
export class FixtureError extends CoopError {
  override name = "FixtureError";
}

function matrix(json: Record<string, unknown>, key: string, dir: string, required: boolean): number[][] | null {
  const value = json[key];
  if (value === undefined || value === null) {
    if (required) throw new FixtureError(`Invalid fixture ${dir}: inputs.json has no "${key}"`);
    return null;
  }
  if (
    !Array.isArray(value) || value.length === 0 ||
    !value.every((row) => Array.isArray(row) && row.every((x) => Number.isInteger(x)))
  ) {
    throw new FixtureError(`Invalid fixture ${dir}: inputs.json "${key}" must be a non-empty matrix of integers`);
  }
  return value as number[][];
}

/** Reads a fixture folder, checking that the input matrices agree in shape. */
export async function readFixture(dir: string): Promise<Fixture> {
  const config = await readDecoderConfig(`${dir}/config.json`);
  const weights = await loadWeights(dir, config);
  let inputs: Record<string, unknown>;
  try {
    inputs = JSON.parse(await Deno.readTextFile(`${dir}/inputs.json`));
  } catch (error) {
    throw new FixtureError(`Invalid fixture ${dir}: cannot read inputs.json: ${(error as Error).message}`);
  }
  const inputIds = matrix(inputs, "input_ids", dir, true)!;
  const attentionMask = matrix(inputs, "attention_mask", dir, false) ?? inputIds.map((row) => row.map(() => 1));
  const positionIds = matrix(inputs, "position_ids", dir, false);
  const width = inputIds[0]!.length;
  for (
    const [name, m] of [["input_ids", inputIds], ["attention_mask", attentionMask], [
      "position_ids",
      positionIds,
    ]] as const
  ) {
    if (m !== null && (m.length !== inputIds.length || m.some((row) => row.length !== width))) {
      throw new FixtureError(`Invalid fixture ${dir}: "${name}" must be ${inputIds.length}x${width} like input_ids`);
    }
  }
  for (const row of inputIds) {
    for (const id of row) {
      if (id < 0 || id >= config.vocabSize) {
        throw new FixtureError(
          `Invalid fixture ${dir}: token id ${id} is outside the vocabulary of ${config.vocabSize}`,
        );
      }
    }
  }
  const expected = (await readSafetensors(`${dir}/expected.safetensors`)).tensors;
  let grads: Map<string, Tensor> | null = null;
  try {
    await Deno.stat(`${dir}/grads.safetensors`);
    grads = (await readSafetensors(`${dir}/grads.safetensors`)).tensors;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return {
    dir,
    kind: config.numLabels === null ? "causal" : "reward",
    config,
    weights,
    inputIds,
    attentionMask,
    positionIds,
    greedyNewTokens: matrix(inputs, "greedy_new_tokens", dir, false),
    expected,
    grads,
  };
}
