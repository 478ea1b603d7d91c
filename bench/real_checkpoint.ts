/**
 * Writes the random-weight Qwen2.5-0.5B-shaped checkpoints the 0.5B cooper run (`rl/configs/real_0_5b.json`) loads:
 * a causal-LM policy and a 1-label sequence-classification reward model of the same shape, each with the real Qwen
 * tokenizer and its chat template (copied from `tests/fixtures/qwen3-tokenizer`). The weights (~2 GiB each) stay
 * out of git; this command rebuilds them.
 *
 *   deno run -A bench/real_checkpoint.ts [--out runs/real-0.5b] [--size 0.5b|mid|small]
 */
import { parseArgs } from "node:util";
import { completeCheckpoint, parseDecoderConfig } from "../engine/io/mod.ts";
import { initWeights, saveModel } from "../engine/models/mod.ts";
import { REAL_SHAPES, type RealSize } from "./real_shapes.ts";

const TOKENIZER = new URL("../tests/fixtures/qwen3-tokenizer", import.meta.url).pathname;

/** Writes `<out>/policy` and `<out>/rm` for `size` (seeds 1 and 2); returns the two folders. */
export async function writeRealCheckpoints(out: string, size: RealSize): Promise<string[]> {
  const shape = REAL_SHAPES[size];
  const roles = [
    { dir: `${out}/policy`, seed: 1, hf: shape },
    {
      dir: `${out}/rm`,
      seed: 2,
      hf: { ...shape, architectures: ["Qwen2ForSequenceClassification"], num_labels: 1, tie_word_embeddings: false },
    },
  ];
  for (const role of roles) {
    const config = parseDecoderConfig(role.hf);
    await saveModel(role.dir, config, initWeights(config, { seed: role.seed }));
    await completeCheckpoint(role.dir, config, { tokenizerDir: TOKENIZER });
  }
  return roles.map((r) => r.dir);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { out: { type: "string", default: "runs/real-0.5b" }, size: { type: "string", default: "0.5b" } },
  });
  const size = values.size as RealSize;
  if (!(size in REAL_SHAPES)) throw new Error(`--size must be one of ${Object.keys(REAL_SHAPES).join(", ")}`);
  const t0 = performance.now();
  const dirs = await writeRealCheckpoints(values.out!, size);
  console.log(`wrote ${dirs.join(", ")} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
