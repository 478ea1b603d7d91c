import { deepStrictEqual, notDeepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { mixSeed, Rng } from "./random.ts";

Deno.test("Rng - same seed, same stream in [0, 1) with mean near 1/2; other seeds differ", () => {
  const draw = (seed: number) => ((rng) => Array.from({ length: 1000 }, () => rng.next()))(new Rng(seed));
  const a = draw(42);
  deepStrictEqual(a, draw(42));
  notDeepStrictEqual(a, draw(43));
  ok(a.every((x) => x >= 0 && x < 1));
  const mean = a.reduce((s, x) => s + x, 0) / a.length;
  ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});

Deno.test("Rng - any finite seed is usable: negative and fractional seeds fold into 32 bits", () => {
  deepStrictEqual(new Rng(-1).nextUint32(), new Rng(2 ** 32 - 1).nextUint32());
  deepStrictEqual(new Rng(7.9).nextUint32(), new Rng(7).nextUint32());
});

Deno.test("Rng - fill gives the nextUint32 stream, across chunk boundaries", () => {
  const one = new Rng(11);
  const expected = Array.from({ length: 700 }, () => one.nextUint32());
  const bulk = new Rng(11);
  const first = new Uint32Array(300);
  const second = new Uint32Array(400);
  bulk.fill(first);
  bulk.fill(second);
  strictEqual([...first, ...second].join(), expected.join());
  strictEqual(bulk.nextUint32(), one.nextUint32(), "fill leaves the state where the single draws leave it");
});

Deno.test("Rng - int stays within inclusive bounds and reaches both ends", () => {
  const rng = new Rng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) seen.add(rng.int(3, 6));
  deepStrictEqual([...seen].sort(), [3, 4, 5, 6]);
});

Deno.test("Rng - shuffle is a permutation, pick refuses an empty array", () => {
  const out = new Rng(3).shuffle([1, 2, 3, 4, 5, 6]);
  deepStrictEqual([...out].sort(), [1, 2, 3, 4, 5, 6]);
  throws(() => new Rng(3).pick([]), RangeError);
});

Deno.test("Rng - a fork's stream differs from its parent's continuation", () => {
  const parent = new Rng(5);
  const child = parent.fork();
  notDeepStrictEqual([child.next(), child.next()], [parent.next(), parent.next()]);
});

Deno.test("Rng - normal has mean near 0 and variance near 1", () => {
  const rng = new Rng(9);
  const xs = Array.from({ length: 20_000 }, () => rng.normal());
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  ok(Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05, `mean ${mean}, variance ${variance}`);
});

Deno.test("mixSeed - deterministic, and the order of parts matters", () => {
  deepStrictEqual(mixSeed(1, 2, 3), mixSeed(1, 2, 3));
  notDeepStrictEqual(mixSeed(1, 2, 3), mixSeed(1, 3, 2));
});
