/**
 * A small seeded PRNG so every task set, negative rewrite and pair choice is reproducible from a seed alone
 * (Math.random cannot be seeded, and a resumed run must replay the same choices).
 */
import { mulberry32 } from "../../shared/mod.ts";

/** A seeded pseudo-random source (mulberry32: 32-bit state, period 2^32, plenty for data generation). */
export class Rng {
  readonly #next: () => number;

  constructor(seed: number) {
    // Fold any finite number (negative, fractional, large) into 32 bits so every seed is usable.
    this.#next = mulberry32((Math.trunc(seed) ^ 0x9e3779b9) >>> 0);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.#next();
  }

  /** An integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick from an empty array");
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** A child generator whose stream is independent of later draws from this one. */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4294967296));
  }
}

/** Mixes a base seed with integers (step, prompt index…) into one 32-bit seed, so streams do not overlap. */
export function mixSeed(base: number, ...parts: number[]): number {
  let h = (Math.trunc(base) ^ 0x85ebca6b) >>> 0;
  for (const part of parts) {
    h = Math.imul(h ^ (Math.trunc(part) >>> 0), 0xcc9e2d51) >>> 0;
    h = ((h << 13) | (h >>> 19)) >>> 0;
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}
