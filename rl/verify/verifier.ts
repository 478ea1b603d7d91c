/**
 * The rule verifier: finds the final answer of a response and of the reference the same way (rl/verify/extract.ts),
 * parses both into typed answers (numbers, expressions, equations and inequalities, intervals, sets, tuples,
 * lists, matrices, text and choices; rl/verify/parse.ts) and compares them symbolically (rl/verify/compare.ts).
 * It is built for no false positives: an answer that cannot be read as math, or is of another kind than the
 * reference, is never matched by a number picked out of it. Every comparison runs under a deadline.
 */

import { formatRational } from "./rational.ts";
import { budgetOf, VerifyTimeout, withBudget } from "./budget.ts";
import { cleanAnswer } from "./clean.ts";
import { answersEqual, type CompareContext } from "./compare.ts";
import { literalRational } from "./evaluate.ts";
import { warmEngine } from "./latex.ts";
import { type AnswerSource, extractAnswer, type ExtractedAnswer } from "./extract.ts";
import { type Answer, parseAnswer } from "./parse.ts";

export { extractAnswer };

/**
 * Loads and warms the LaTeX engine now (1-2 s, otherwise paid by the first verification that needs it, outside its
 * deadline). A reward actor may call this at start-up.
 */
export function warmVerifier(): void {
  warmEngine();
}
export type { Answer, AnswerSource, ExtractedAnswer };

/** The verifier's judgement of one response. */
export type Verdict = "correct" | "incorrect" | "unparseable";

/** The verifier's result; `predicted`/`reference` are canonical forms (e.g. `3/4`, `1000`, `(-\infty,3]`). */
export interface VerifyResult {
  verdict: Verdict;
  predicted?: string;
  reference?: string;
  /** Why the verdict is "unparseable". */
  reason?: string;
  /** The comparison ran past `timeoutMs` (the verdict is then "unparseable"). */
  timedOut?: boolean;
}

/** Comparison settings; see {@link VERIFY_DEFAULTS}. */
export interface VerifyOptions {
  /** Relative tolerance for values that are not exact rationals (radicals, π, logs evaluated in floating point). */
  relativeTolerance?: number;
  /** Decimal places both sides are rounded to when one is a written decimal (Math-Verify's `float_rounding`). */
  floatRounding?: number;
  /** Deadline of one verification in milliseconds; past it the verdict is "unparseable". */
  timeoutMs?: number;
}

/**
 * Defaults: Math-Verify's rounding of decimals to 6 places; 1e-9 relative for floating-point evaluation (Math-Verify's
 * 1e-15 assumes sympy's 15-digit arithmetic, float64 sampling cannot promise it); a 500 ms deadline (unloaded, the
 * slowest fuzzed verification takes ~50 ms; the margin is for a loaded machine).
 */
export const VERIFY_DEFAULTS: Required<VerifyOptions> = { relativeTolerance: 1e-9, floatRounding: 6, timeoutMs: 500 };

/** A parsed final answer and its canonical text. */
export interface NormalizedAnswer {
  answer: Answer;
  canonical: string;
}

/** Verifies a response against a reference answer. Never throws: odd input yields "unparseable" with a reason. */
export function verify(response: string, reference: string, options: VerifyOptions = {}): VerifyResult {
  if (typeof response !== "string" || typeof reference !== "string") {
    return { verdict: "unparseable", reason: "response and reference must be strings" };
  }
  const settings = { ...VERIFY_DEFAULTS, ...options };
  const budget = budgetOf(settings.timeoutMs);
  try {
    return withBudget(budget, () => verifyWithin(response, reference, { ...settings, budget }));
  } catch (error) {
    if (error instanceof VerifyTimeout) {
      return { verdict: "unparseable", reason: error.message, timedOut: true };
    }
    return { verdict: "unparseable", reason: `verifier error: ${error instanceof Error ? error.message : error}` };
  }
}

function verifyWithin(response: string, reference: string, ctx: CompareContext): VerifyResult {
  const ref = extractAnswer(reference);
  if (ref === undefined) return { verdict: "unparseable", reason: "reference answer is empty" };
  const refText = canonicalText(ref.text);
  // Identical strings are always equal, whether or not they parse (12:00, a proof name, ...).
  if (response.trim() === reference.trim()) return { verdict: "correct", predicted: refText, reference: refText };
  const found = extractAnswer(response);
  if (found === undefined) return { verdict: "unparseable", reference: refText, reason: "no answer found" };
  const predText = canonicalText(found.text);
  if (predText !== "" && predText === refText) return { verdict: "correct", predicted: predText, reference: refText };
  const refAnswer = normalizeAnswer(ref.text);
  if (refAnswer === undefined) {
    return { verdict: "unparseable", predicted: predText, reference: refText, reason: "reference is not readable" };
  }
  const predicted = normalizeAnswer(found.text);
  if (predicted === undefined) {
    const reason = `answer after ${found.source} is empty or not readable`;
    return { verdict: "unparseable", predicted: predText, reference: refAnswer.canonical, reason };
  }
  const unmarked = unmarkedRefusal(found, predicted.answer, refAnswer.answer);
  if (unmarked !== undefined) return { verdict: "unparseable", reference: refAnswer.canonical, reason: unmarked };
  const equal = answersEqual(predicted.answer, refAnswer.answer, ctx);
  return { verdict: equal ? "correct" : "incorrect", predicted: predicted.canonical, reference: refAnswer.canonical };
}

// An unmarked final line is held to a stricter standard than a marked answer: prose without math ("I don't know")
// holds no answer unless the reference is text too, and an unevaluated computation (`6+18`, a solution cut off
// before its result) is not an answer even when it evaluates to the reference.
function unmarkedRefusal(found: ExtractedAnswer, predicted: Answer, reference: Answer): string | undefined {
  if (found.source !== "final-line") return undefined;
  if (predicted.kind === "text" && reference.kind !== "text") return "no answer found";
  const text = found.text.trim();
  if (/^[\d\s.]*\d\s*[-+*/×]\s*[\d(][\d\s.+\-*/×()]*$/.test(text) && !/^\d+\s*\/\s*\d+$/.test(text)) {
    return "the final line is an unevaluated computation";
  }
  return undefined;
}

/** Parses a final-answer string into a typed answer with its canonical text; `undefined` if empty or unreadable. */
export function normalizeAnswer(raw: string): NormalizedAnswer | undefined {
  const answer = parseAnswer(raw);
  if (answer === undefined) return undefined;
  const value = answer.kind === "expr" ? literalRational(answer.json) : undefined;
  const canonical = value
    ? formatRational(value) + (answer.kind === "expr" && answer.percent ? "%" : "")
    : canonicalText(raw);
  return { answer, canonical };
}

/** Whether two normalised answers are equal under the default settings. */
export function answersMatch(a: NormalizedAnswer, b: NormalizedAnswer, options: VerifyOptions = {}): boolean {
  const settings = { ...VERIFY_DEFAULTS, ...options };
  return answersEqual(a.answer, b.answer, { ...settings, budget: budgetOf(settings.timeoutMs) });
}

/** The cleaned LaTeX of an answer (delimiters, `\text{}`, separators, units removed), `%` kept. */
export function cleanLatex(raw: string): string {
  const { text, percent } = cleanAnswer(raw);
  return percent ? `${text}%` : text;
}

function canonicalText(raw: string): string {
  // Spaces go, except between digits: "2 3" is not 23.
  return cleanLatex(raw).replace(/(\d)\s+(?=\d)/g, "$1 ").replace(/(?<!\d)\s+|\s+(?!\d)/g, "");
}
