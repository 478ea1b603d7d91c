import { ok, strictEqual } from "node:assert/strict";
import { fillNormal, inverseNormalCdf } from "./init.ts";
import { tinyDecoderConfig } from "../../tests/fixtures/tiny_decoder.ts";
import { initWeights } from "./params.ts";

Deno.test("inverseNormalCdf - known quantiles", () => {
  const cases: [number, number][] = [[0.5, 0], [0.975, 1.959963985], [0.025, -1.959963985], [0.001, -3.090232306]];
  for (const [p, z] of cases) {
    ok(Math.abs(inverseNormalCdf(p) - z) < 1e-8, `Φ⁻¹(${p}) = ${inverseNormalCdf(p)}, expected ${z}`);
  }
});

Deno.test("fillNormal - moments and tail mass of normal(0, std); deterministic per seed", () => {
  const n = 1_000_000;
  const a = new Float32Array(n);
  fillNormal(a, 7, 0.5);
  let sum = 0, sq = 0, beyond2 = 0, beyond3 = 0;
  for (const x of a) {
    sum += x;
    sq += x * x;
    if (Math.abs(x) > 1) beyond2++;
    if (Math.abs(x) > 1.5) beyond3++;
  }
  const mean = sum / n;
  const std = Math.sqrt(sq / n - mean * mean);
  ok(Math.abs(mean) < 0.003, `mean ${mean}`);
  ok(Math.abs(std - 0.5) < 0.003, `std ${std}`);
  // P(|z| > 2) = 0.0455, P(|z| > 3) = 0.0027 (4-sigma bounds of the binomial counts).
  ok(Math.abs(beyond2 / n - 0.0455) < 0.001, `P(|z|>2) = ${beyond2 / n}`);
  ok(Math.abs(beyond3 / n - 0.0027) < 0.0003, `P(|z|>3) = ${beyond3 / n}`);
  const b = new Float32Array(1000);
  const c = new Float32Array(1000);
  fillNormal(b, 7, 0.5);
  fillNormal(c, 8, 0.5);
  ok(b.every((x, i) => x === a[i]), "same seed, different values");
  ok(c.some((x, i) => x !== b[i]), "different seeds, same values");
});

Deno.test("initWeights - deterministic per seed; gains are ones, biases zeros", () => {
  const config = tinyDecoderConfig({ model_type: "qwen2", num_key_value_heads: 1, tie_word_embeddings: false });
  const a = initWeights(config, { seed: 3 });
  const b = initWeights(config, { seed: 3 });
  const c = initWeights(config, { seed: 4 });
  const q = "model.layers.0.self_attn.q_proj.weight";
  strictEqual(Array.from(a.get(q)!.data).join(), Array.from(b.get(q)!.data).join());
  ok(Array.from(a.get(q)!.data).join() !== Array.from(c.get(q)!.data).join());
  // Different tensors of one model get different streams.
  ok(a.get("model.layers.0.mlp.up_proj.weight")!.data[0] !== a.get("model.layers.0.mlp.gate_proj.weight")!.data[0]);
  ok(Array.from(a.get("model.layers.0.input_layernorm.weight")!.data).every((x) => x === 1));
  ok(Array.from(a.get("model.layers.0.self_attn.q_proj.bias")!.data).every((x) => x === 0));
});
