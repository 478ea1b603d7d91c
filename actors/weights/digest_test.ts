import { notStrictEqual, strictEqual } from "node:assert/strict";
import { Tensor } from "../../shared/tensor.ts";
import { digestTensors } from "./digest.ts";

Deno.test("digest - live tensors: map order does not matter; a value, a shape or a name does", async () => {
  const a = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: 64 }, (_, i) => i);
  const tensors = (x = a, shape = [64, 64], name = "w") =>
    new Map([[name, new Tensor("float32", shape, x)], ["b", new Tensor("float32", [64], b)]]);
  const base = await digestTensors(tensors());
  strictEqual(await digestTensors(new Map([...tensors()].reverse())), base);
  const changed = a.slice();
  changed[4000] = Math.fround(changed[4000]! + 1e-3);
  notStrictEqual(await digestTensors(tensors(changed)), base);
  notStrictEqual(await digestTensors(tensors(a, [32, 128])), base); // same bytes, other shape
  notStrictEqual(await digestTensors(tensors(a, [64, 64], "w2")), base);
});
