import { deepStrictEqual as assertEquals, notDeepStrictEqual } from "node:assert";
import { mixSeed, Rng } from "./rng.ts";

Deno.test("Rng - same seed, same stream; different seed, different stream", () => {
  const draw = (seed: number) => Array.from({ length: 8 }, ((rng) => () => rng.next())(new Rng(seed)));
  assertEquals(draw(7), draw(7));
  notDeepStrictEqual(draw(7), draw(8));
});

Deno.test("Rng - int stays within inclusive bounds and reaches both ends", () => {
  const rng = new Rng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) seen.add(rng.int(3, 6));
  assertEquals([...seen].sort(), [3, 4, 5, 6]);
});

Deno.test("Rng - shuffle is a permutation", () => {
  const out = new Rng(3).shuffle([1, 2, 3, 4, 5, 6]);
  assertEquals([...out].sort(), [1, 2, 3, 4, 5, 6]);
});

Deno.test("mixSeed - order of parts matters", () => {
  notDeepStrictEqual(mixSeed(1, 2, 3), mixSeed(1, 3, 2));
  assertEquals(mixSeed(1, 2, 3), mixSeed(1, 2, 3));
});
