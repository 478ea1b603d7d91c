import { deepStrictEqual as assertEquals, ok } from "node:assert";
import { castWeights, completeCheckpoint, fromFloat32 } from "./checkpoint.ts";
import { readDecoderConfig } from "./config.ts";
import { readSafetensors, toFloat32, writeSafetensors } from "./safetensors.ts";
import { checkParity, hfFixturesDir } from "../parity/mod.ts";
import { Tensor } from "../../shared/tensor.ts";
import { QWEN3_TOKENIZER_DIR } from "../../tests/fixtures/mod.ts";

Deno.test("fromFloat32 - bfloat16 is bit-identical to torch's .to(torch.bfloat16) on a real checkpoint", async () => {
  const fp32 = (await readSafetensors(`${hfFixturesDir()}/qwen2-tiny/model.safetensors`)).tensors;
  const torchBf16 = (await readSafetensors(`${hfFixturesDir()}/qwen2-tiny-bf16/model.safetensors`)).tensors;
  const ours = castWeights(fp32, "bfloat16");
  assertEquals([...ours.keys()].sort(), [...torchBf16.keys()].sort());
  for (const [name, tensor] of ours) {
    assertEquals(tensor.dtype, "bfloat16");
    ok(tensor.bytes().every((b, i) => b === torchBf16.get(name)!.bytes()[i]), `${name} differs from torch`);
  }
});

Deno.test("fromFloat32 - float16 rounds to nearest even, overflows to infinity, keeps NaN and subnormals", () => {
  const values = [1, 0.1, -2.5, 65504, 65520, 1e-8, 6e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, NaN, -Infinity];
  const half = fromFloat32(new Tensor("float32", [values.length], new Float32Array(values)), "float16");
  assertEquals([...(half.data as Uint16Array)].map((w) => w.toString(16)), [
    "3c00", // 1
    "2e66", // 0.1
    "c100", // -2.5
    "7bff", // 65504, the largest half
    "7c00", // 65520 rounds up to infinity
    "0", // 1e-8 underflows
    "1", // 6e-8: the smallest subnormal (5.96e-8)
    "3c00", // a tie rounds to even (down)
    "3c02", // a tie rounds to even (up)
    "7e00", // NaN
    "fc00", // -Infinity
  ]);
  const back = toFloat32(half).data as Float32Array;
  assertEquals([back[0], back[2], back[3]], [1, -2.5, 65504]);
});

Deno.test("parity - bf16 weights (saved by transformers) compute what transformers computes from them", async () => {
  const report = await checkParity(`${hfFixturesDir()}/qwen2-tiny-bf16`);
  ok(report.ok && report.rows.some((row) => row.name === "logits"), JSON.stringify(report.rows));
});

Deno.test("completeCheckpoint - tokenizer files, generation_config.json and dtype; no generation config for an RM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop_ckpt_" });
  try {
    const config = await readDecoderConfig(`${hfFixturesDir()}/qwen2-tiny/config.json`);
    await Deno.copyFile(`${hfFixturesDir()}/qwen2-tiny/config.json`, `${dir}/config.json`);
    const written = await completeCheckpoint(dir, { ...config, eosTokenIds: [151645], padTokenId: 151643 }, {
      tokenizerDir: QWEN3_TOKENIZER_DIR,
      generationConfig: { eos_token_id: [151645, 151643], temperature: 0.7 },
      dtype: "bfloat16",
    });
    assertEquals(written, ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]);
    const generation = JSON.parse(await Deno.readTextFile(`${dir}/generation_config.json`));
    assertEquals(generation, { eos_token_id: [151645, 151643], pad_token_id: 151643, temperature: 0.7 });
    const hf = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    assertEquals([hf.dtype, hf.torch_dtype], ["bfloat16", "bfloat16"]);

    const rm = await readDecoderConfig(`${hfFixturesDir()}/qwen2-rm-tiny/config.json`);
    await Deno.remove(`${dir}/generation_config.json`);
    assertEquals(await completeCheckpoint(dir, rm, { tokenizerDir: null }), []);
    await writeSafetensors(
      `${dir}/x.safetensors`,
      castWeights(new Map([["w", new Tensor("float32", [1], new Float32Array([2]))]]), "float16"),
    );
    assertEquals((await readSafetensors(`${dir}/x.safetensors`)).tensors.get("w")!.dtype, "float16");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
