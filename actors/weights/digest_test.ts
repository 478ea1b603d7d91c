import { deepStrictEqual, notStrictEqual, strictEqual } from "node:assert/strict";
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

Deno.test("digest - unchanging tensors' hashes are kept: same digest, computed once, until the caller clears them", async () => {
  const emb = Float32Array.from({ length: 8192 }, (_, i) => Math.cos(i));
  const w = Float32Array.from({ length: 1024 }, (_, i) => i / 7);
  const tensors = () => new Map([["emb", new Tensor("float32", [8192], emb)], ["w", new Tensor("float32", [1024], w)]]);
  const unchanging = { names: ["emb"], hashes: new Map<string, string>() };
  const base = await digestTensors(tensors());
  strictEqual(await digestTensors(tensors(), { unchanging }), base);
  deepStrictEqual([...unchanging.hashes.keys()], ["emb"]);
  // The trainable tensor is hashed every time: an update to it changes the digest.
  w[3] = 42;
  const updated = await digestTensors(tensors(), { unchanging });
  notStrictEqual(updated, base);
  strictEqual(updated, await digestTensors(tensors()));
  // The kept hash stands for the frozen tensor: the caller's contract is to clear it when that tensor may change.
  emb[5] = 9;
  strictEqual(await digestTensors(tensors(), { unchanging }), updated);
  unchanging.hashes.clear();
  strictEqual(await digestTensors(tensors(), { unchanging }), await digestTensors(tensors()));
  notStrictEqual(await digestTensors(tensors()), updated);
});
