/**
 * The verifier moved to `verify/` (entry `verify/mod.ts`). This re-export keeps the imports from outside rl/
 * (actors/roles/reward.ts, bench/verifier.ts) working until they go through rl/mod.ts; delete it then.
 */
export {
  answersMatch,
  cleanLatex,
  extractAnswer,
  normalizeAnswer,
  verify,
  VERIFY_DEFAULTS,
  warmVerifier,
} from "./verify/mod.ts";
export type {
  Answer,
  AnswerSource,
  ExtractedAnswer,
  NormalizedAnswer,
  Verdict,
  VerifyOptions,
  VerifyResult,
} from "./verify/mod.ts";
