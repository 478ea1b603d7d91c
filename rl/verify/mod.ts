/** The answer verifier (`verify(response, reference)`) and the exact rationals it compares numbers with. */
export {
  answersMatch,
  cleanLatex,
  extractAnswer,
  normalizeAnswer,
  verify,
  VERIFY_DEFAULTS,
  warmVerifier,
} from "./verifier.ts";
export type {
  Answer,
  AnswerSource,
  ExtractedAnswer,
  NormalizedAnswer,
  Verdict,
  VerifyOptions,
  VerifyResult,
} from "./verifier.ts";
export { divide, equals, formatRational, parseDecimal, rational, toNumber } from "./rational.ts";
export type { Rational } from "./rational.ts";
