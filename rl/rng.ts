/**
 * The PRNG moved to `rng/` (entry `rng/mod.ts`). This re-export keeps the import from outside rl/
 * (bench/verifier.ts) working until it goes through rl/mod.ts; delete it then.
 */
export { mixSeed, Rng } from "./rng/mod.ts";
