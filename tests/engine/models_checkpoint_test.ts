import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { readDecoderConfig, readSafetensors } from "../../engine/io/mod.ts";
import { checkWeights, initWeights, loadWeights, parameterCount, saveModel } from "../../engine/models/params.ts";
import { Tensor } from "../../shared/tensor.ts";
import { tinyDecoderConfig } from "../fixtures/tiny_decoder.ts";
import { fixtureDir } from "./parity_fixtures.ts";

const tiny = tinyDecoderConfig({ vocab_size: 40, num_hidden_layers: 2, num_attention_heads: 4 });

Deno.test("checkpoint - save then load gives the same config and weights under HF names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop_ckpt_" });
  try {
    const weights = initWeights(tiny, { seed: 3 });
    await saveModel(dir, tiny, weights);
    const config = await readDecoderConfig(`${dir}/config.json`);
    deepStrictEqual(config, tiny);
    const loaded = await loadWeights(dir, config);
    deepStrictEqual([...loaded.keys()], [...weights.keys()]);
    for (const [name, tensor] of weights) deepStrictEqual(loaded.get(name)!.data, tensor.data, name);
    strictEqual(loaded.size, 2 + 2 * 9);
    strictEqual(parameterCount(tiny), 40 * 16 + 16 + 2 * (16 + 16 * 16 + 2 * 8 * 16 + 16 * 16 + 16 + 3 * 32 * 16));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint - missing, unexpected and mis-shaped tensors are all named in one error", () => {
  const weights: Map<string, Tensor> = initWeights(tiny);
  weights.delete("model.layers.1.mlp.up_proj.weight");
  weights.set("model.layers.0.self_attn.rotary_emb.inv_freq", new Tensor("float32", [2], new Float32Array(2)));
  weights.set("model.norm.weight", new Tensor("float32", [15], new Float32Array(15)));
  throws(() => checkWeights(tiny, weights), (error: Error) => {
    strictEqual(error.name, "CheckpointError");
    ok(error.message.includes("missing model.layers.1.mlp.up_proj.weight"), error.message);
    ok(error.message.includes("unexpected model.layers.0.self_attn.rotary_emb.inv_freq"), error.message);
    ok(error.message.includes("model.norm.weight is [15], expected [16]"), error.message);
    return true;
  });
});

Deno.test("checkpoint - a tied model accepts a redundant lm_head.weight; an untied one requires it", async () => {
  const weights: Map<string, Tensor> = initWeights(tiny);
  weights.set("lm_head.weight", weights.get("model.embed_tokens.weight")!);
  ok(!checkWeights(tiny, weights).has("lm_head.weight"));
  const qwen = await readDecoderConfig(`${fixtureDir("qwen2-tiny")}/config.json`);
  const file = await readSafetensors(`${fixtureDir("qwen2-tiny")}/model.safetensors`);
  file.tensors.delete("lm_head.weight");
  throws(() => checkWeights(qwen, file.tensors), { name: "CheckpointError", message: /missing lm_head.weight/ });
});

Deno.test("checkpoint - bfloat16 weights load as float32", () => {
  const weights = initWeights(tiny, { seed: 1 });
  const bf16 = new Map<string, Tensor>();
  for (const [name, t] of weights) {
    const words = new Uint16Array(new Uint32Array(t.data.buffer, t.data.byteOffset, t.size).map((x) => x >>> 16));
    bf16.set(name, new Tensor("bfloat16", t.shape, words));
  }
  const loaded = checkWeights(tiny, bf16);
  const a = loaded.get("model.layers.0.self_attn.q_proj.weight")!.data;
  const b = weights.get("model.layers.0.self_attn.q_proj.weight")!.data;
  strictEqual(loaded.get("model.norm.weight")!.dtype, "float32");
  ok(a.every((x, i) => Math.abs(x - b[i]!) <= Math.abs(b[i]!) / 128));
});
