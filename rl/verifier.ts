/**
 * The verifier moved to `verify/` (entry `verify/mod.ts`). This re-export keeps the imports from outside rl/
 * (actors/roles/reward.ts, bench/verifier.ts) working until they go through rl/mod.ts; delete it then.
 */
export { verify, warmVerifier } from "./verify/mod.ts";
export type { Verdict } from "./verify/mod.ts";
