import { deepStrictEqual as assertEquals, throws } from "node:assert";
import { Tensor, tensor } from "../../shared/tensor.ts";
import { hfFixturesDir } from "../parity/mod.ts";
import {
  parseSafetensors,
  readSafetensors,
  safetensorsLayout,
  serializeSafetensors,
  toFloat32,
  writeSafetensors,
} from "./safetensors.ts";

Deno.test("safetensors - round trip keeps names, dtypes, shapes, values and metadata", () => {
  const tensors = new Map<string, Tensor>([
    ["a.weight", tensor("float32", [2, 3], [1, 2, 3, 4, 5, 6])],
    ["b", tensor("int64", [2], [7, -8])],
    ["c", tensor("uint8", [3], [1, 2, 3])],
  ]);
  const bytes = serializeSafetensors(tensors, { metadata: { format: "pt" } });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals(headerLength % 8, 0);
  const file = parseSafetensors(bytes);
  assertEquals(file.metadata, { format: "pt" });
  assertEquals([...file.tensors.keys()], ["a.weight", "b", "c"]);
  assertEquals(Array.from(file.tensors.get("a.weight")!.data as Float32Array), [1, 2, 3, 4, 5, 6]);
  assertEquals(file.tensors.get("a.weight")!.shape, [2, 3]);
  assertEquals(Array.from(file.tensors.get("b")!.data as BigInt64Array), [7n, -8n]);
  assertEquals(file.tensors.get("c")!.dtype, "uint8");
});

Deno.test("safetensors - reads the HF fixture weights", async () => {
  const bytes = await Deno.readFile(`${hfFixturesDir()}/qwen2-tiny/model.safetensors`);
  const file = parseSafetensors(bytes);
  assertEquals(file.tensors.get("lm_head.weight")!.shape, [300, 64]);
  assertEquals(file.tensors.get("model.layers.0.self_attn.k_proj.bias")!.shape, [32]);
});

Deno.test("safetensors - truncated or inconsistent files are rejected with a reason", () => {
  throws(() => parseSafetensors(new Uint8Array(4)), { name: "SafetensorsError", message: /too short/ });
  const good = serializeSafetensors(new Map([["x", tensor("float32", [4], [1, 2, 3, 4])]]));
  throws(() => parseSafetensors(good.subarray(0, good.length - 4)), {
    name: "SafetensorsError",
    message: /tensor "x"/,
  });
  const bad = good.slice();
  new DataView(bad.buffer).setBigUint64(0, 1n << 40n, true);
  throws(() => parseSafetensors(bad), { name: "SafetensorsError", message: /runs past the end/ });
});

Deno.test("safetensors - bfloat16 and float16 widen to float32", () => {
  const bf = new Tensor("bfloat16", [2], new Uint16Array([0x3f80, 0xc000]));
  assertEquals(Array.from(toFloat32(bf).data), [1, -2]);
  const half = new Tensor("float16", [3], new Uint16Array([0x3c00, 0xb800, 0x0001]));
  assertEquals(Array.from(toFloat32(half).data), [1, -0.5, Math.fround(2 ** -24)]);
});

Deno.test("safetensors - align puts the data section and every tensor on the boundary; unset keeps tensors packed", () => {
  const tensors = new Map<string, Tensor>([
    ["odd", tensor("float16", [3], [1, 2, 3])],
    ["b", tensor("float32", [2], [4, 5])],
  ]);
  const packed = serializeSafetensors(tensors);
  const start = 8 + Number(new DataView(packed.buffer).getBigUint64(0, true));
  assertEquals(packed.byteLength, start + 6 + 8, "no gaps without align");
  const aligned = serializeSafetensors(tensors, { metadata: { v: "1" }, align: 4096 });
  const layout = safetensorsLayout(tensors, { metadata: { v: "1" }, align: 4096 });
  assertEquals(layout.offsets, [4096, 8192]);
  assertEquals(aligned.byteLength, 8192 + 8);
  const file = parseSafetensors(aligned);
  assertEquals(Array.from(file.tensors.get("odd")!.data as Uint16Array), [1, 2, 3]);
  assertEquals(Array.from(file.tensors.get("b")!.data as Float32Array), [4, 5]);
  assertEquals(file.tensors.get("b")!.data.byteOffset % 4096, 0);
  throws(() => safetensorsLayout(tensors, { align: 0 }), /Invalid alignment/);
});

Deno.test("safetensors - the streamed file write is byte-identical to the in-memory serialization", async () => {
  // Odd byte sizes put padding between tensors if the layout aligns them; the stream must write it too.
  const tensors = new Map<string, Tensor>([
    ["c", tensor("uint8", [3], [1, 2, 3])],
    ["a.weight", tensor("float32", [2, 3], [1, 2, 3, 4, 5, 6])],
    ["h", tensor("bfloat16", [1], [0x3f80])],
  ]);
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    await writeSafetensors(path, tensors, { metadata: { step: "3" } });
    assertEquals(await Deno.readFile(path), serializeSafetensors(tensors, { metadata: { step: "3" } }));
    assertEquals((await readSafetensors(path)).metadata, { step: "3" });
  } finally {
    await Deno.remove(path);
  }
});
