import { ok, strictEqual } from "node:assert";
import { parseDecoderConfig } from "../io/mod.ts";
import { inverseFrequencies } from "./decoder.ts";

const base = {
  model_type: "llama",
  vocab_size: 10,
  hidden_size: 64 * 4,
  num_hidden_layers: 1,
  num_attention_heads: 4,
  intermediate_size: 8,
};

Deno.test("rope - default frequencies are 1 / theta^(2i/d)", () => {
  const f = inverseFrequencies(parseDecoderConfig({ ...base, rope_theta: 10000 }));
  strictEqual(f.length, 32);
  strictEqual(f[0], 1);
  ok(Math.abs(f[16]! - 1 / 10000 ** 0.5) < 1e-9);
});

Deno.test("rope - linear scaling divides every frequency; llama3 keeps high and divides low frequencies", () => {
  const plain = inverseFrequencies(parseDecoderConfig({ ...base, rope_theta: 500000 }));
  const linear = inverseFrequencies(
    parseDecoderConfig({ ...base, rope_theta: 500000, rope_scaling: { rope_type: "linear", factor: 4 } }),
  );
  linear.forEach((f, i) => ok(Math.abs(f - plain[i]! / 4) <= 1e-7 * plain[i]!));
  // Llama 3.2's rope_scaling block.
  const llama3 = inverseFrequencies(parseDecoderConfig({
    ...base,
    rope_theta: 500000,
    rope_scaling: {
      rope_type: "llama3",
      factor: 32,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    },
  }));
  strictEqual(llama3[0], plain[0]);
  ok(Math.abs(llama3[31]! - plain[31]! / 32) <= 1e-7 * plain[31]!);
  llama3.forEach((f, i) => ok(f <= plain[i]! && f >= plain[i]! / 32 * (1 - 1e-6), `component ${i}`));
});
