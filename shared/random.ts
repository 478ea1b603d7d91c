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

/**
 * The same stream as `mulberry32(seed)` as raw 32-bit words written into a buffer: one call fills a whole chunk in a
 * tight loop (~8x faster per value than calling the closure, for bulk uses such as weight initialisation).
 */
export class Mulberry32Stream {
  #a: number;

  constructor(seed: number) {
    this.#a = seed >>> 0;
  }

  /** Fills `out` with the next `out.length` words (word / 2^32 is what `mulberry32` returns). */
  fill(out: Uint32Array): void {
    let a = this.#a;
    for (let i = 0; i < out.length; i++) {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      out[i] = (t ^ (t >>> 14)) >>> 0;
    }
    this.#a = a;
  }
}
