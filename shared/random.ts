/**
 * mulberry32: a tiny seeded PRNG (32-bit state, period 2^32) for tests, fuzzers and gradient checks, so a failing
 * case replays from its seed alone (Math.random cannot be seeded). Not for sampling: engine/generate/rng.ts is.
 */

/** A seeded uniform [0, 1) generator. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
