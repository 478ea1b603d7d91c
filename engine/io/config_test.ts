import { deepStrictEqual as assertEquals, throws } from "node:assert";
import { hfFixturesDir } from "../parity/mod.ts";
import { parseDecoderConfig, toHfConfig } from "./config.ts";

const base = {
  model_type: "qwen2",
  architectures: ["Qwen2ForCausalLM"],
  vocab_size: 300,
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 160,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: false,
};

Deno.test("config - transformers 5 rope_parameters and transformers 4 rope_theta both load", () => {
  const v5 = parseDecoderConfig({ ...base, rope_parameters: { rope_theta: 500000, rope_type: "default" } });
  const v4 = parseDecoderConfig({ ...base, rope_theta: 1000000, rope_scaling: null });
  assertEquals(v5.ropeTheta, 500000);
  assertEquals(v4.ropeTheta, 1000000);
  assertEquals(v4.headDim, 16);
  assertEquals(v4.qkvBias, true);
  assertEquals(v4.oBias, false);
});

Deno.test("config - fixture configs parse with their GQA, bias and tying", async () => {
  const dir = `${hfFixturesDir()}/`;
  const llama = parseDecoderConfig(JSON.parse(await Deno.readTextFile(`${dir}llama-tiny/config.json`)));
  assertEquals([llama.family, llama.numHeads, llama.numKvHeads, llama.headDim, llama.tieWordEmbeddings], [
    "llama",
    6,
    3,
    8,
    true,
  ]);
  assertEquals(llama.qkvBias, false);
  assertEquals(llama.eosTokenIds, [2]);
  const rm = parseDecoderConfig(JSON.parse(await Deno.readTextFile(`${dir}qwen2-rm-tiny/config.json`)));
  assertEquals(rm.numLabels, 1);
  assertEquals(rm.padTokenId, 0);
});

Deno.test("config - written configs parse back to the same config", () => {
  const config = parseDecoderConfig({ ...base, rope_theta: 10000 });
  assertEquals(parseDecoderConfig(toHfConfig(config)), config);
});

Deno.test("config - unsupported or invalid fields are named", () => {
  throws(() => parseDecoderConfig({ ...base, model_type: "gpt2" }), {
    name: "ModelConfigError",
    message: /model_type/,
  });
  throws(() => parseDecoderConfig({ ...base, num_key_value_heads: 3 }), {
    name: "ModelConfigError",
    message: /num_key_value_heads/,
  });
  throws(() => parseDecoderConfig({ ...base, rope_parameters: { rope_type: "yarn", rope_theta: 1 } }), {
    name: "ModelConfigError",
    message: /yarn/,
  });
  throws(() => parseDecoderConfig({ ...base, hidden_size: "64" }), {
    name: "ModelConfigError",
    message: /hidden_size/,
  });
  throws(() => parseDecoderConfig([]), { name: "ModelConfigError", message: /JSON object/ });
});
