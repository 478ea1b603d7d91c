/** The RL side's seeded PRNG and seed mixing: a leaf, so tasks, the verifier's tests and rl/ itself can all use it. */
export { mixSeed, Rng } from "./rng.ts";
