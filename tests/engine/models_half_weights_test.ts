/**
 * Half-precision weights for frozen models (reference, reward model): a runtime holding float16 weights casts them
 * to float32 inside each session, and its log-probs stay within float16 rounding of the float32 runtime's.
 */
import { ok, strictEqual } from "node:assert/strict";
import { initWeights } from "../../engine/models/params.ts";
import { ModelRuntime } from "../../engine/models/runtime.ts";
import { Scorer } from "../../engine/score/mod.ts";
import { Generator } from "../../engine/generate/generator.ts";
import { tinyDecoderConfig } from "../fixtures/tiny_decoder.ts";

const config = tinyDecoderConfig({
  model_type: "qwen2",
  architectures: ["Qwen2ForCausalLM"],
  vocab_size: 64,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
});

Deno.test("ModelRuntime float16 weights - log-probs match float32 within fp16 rounding; generation runs", async () => {
  const weights = initWeights(config, { seed: 5, std: 0.3 });
  const full = new ModelRuntime(config, { session: { intraOpThreads: 1 } });
  const half = new ModelRuntime(config, { session: { intraOpThreads: 1 }, weightDtype: "float16" });
  try {
    full.setWeights(weights);
    half.setWeights(weights);
    const rows = [[1, 5, 9, 13, 17, 21, 2], [3, 4, 60, 61]];
    const a = await new Scorer(full).tokenLogprobs(rows);
    const b = await new Scorer(half).tokenLogprobs(rows);
    let worst = 0;
    a.forEach((row, r) => row.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - b[r]![i]!)))));
    ok(worst > 0, "float16 weights gave bit-identical log-probs: the weights were not rounded");
    ok(worst < 5e-3, `float16 log-probs differ by ${worst}`);
    // The KV-cache decode sessions take the same half weights (greedy tokens of random weights may flip on
    // near-ties, so only the shape of the result is compared).
    const gb = await new Generator(half).generate([[1, 2, 3], [7, 8]], { maxNewTokens: 6, stopTokens: [] });
    strictEqual(gb.tokens.map((t) => t.length).join(), "6,6");
  } finally {
    await full.release();
    await half.release();
  }
});
