/**
 * The rule verifier: pulls the final answer out of a response and compares it with the reference answer.
 *
 * Extraction order follows what math datasets and models write: GSM8K's `#### 42`, then the last `\boxed{...}`
 * (MATH), then "the answer is ...", then the last number anywhere as a fallback. Numbers are compared as exact
 * rationals, so `0.75`, `3/4`, `\dfrac{3}{4}` and `75%` (against 0.75) all agree; answers with no single number
 * (expressions, tuples) fall back to whitespace-insensitive text equality.
 */

import { divide, equals, formatRational, parseDecimal, type Rational } from "./rational.ts";

/** The verifier's judgement of one response. */
export type Verdict = "correct" | "incorrect" | "unparseable";

/** Where in the response the final answer was found. */
export type AnswerSource = "hashes" | "boxed" | "answer-is" | "last-number";

/** The verifier's result; `predicted`/`reference` are canonical forms (e.g. `3/4`, `1000`, `0.5`). */
export interface VerifyResult {
  verdict: Verdict;
  predicted?: string;
  reference?: string;
  /** Why the verdict is "unparseable". */
  reason?: string;
}

/** The raw final-answer text found in a response. */
export interface ExtractedAnswer {
  text: string;
  source: AnswerSource;
}

/** A final answer after normalisation: an exact number, or normalised text when it holds no single number. */
export type NormalizedAnswer =
  | { kind: "number"; value: Rational; percent: boolean; canonical: string }
  | { kind: "text"; canonical: string };

// A number token: optional sign (not glued to a preceding word or digit, so `5-3` yields 5 and 3), integer or
// decimal, optionally `/ denominator`. Thousands separators are removed before tokenising.
const NUMBER = /(?<![\w.])([-+]?(?:\d+(?:\.\d+)?|\.\d+))(?:\s*\/\s*([-+]?(?:\d+(?:\.\d+)?|\.\d+)))?/g;

interface NumberToken {
  value: Rational;
  percent: boolean;
  start: number;
  end: number;
}

/** Finds the final-answer text of a response, or `undefined` when there is none. */
export function extractAnswer(response: string): ExtractedAnswer | undefined {
  const hashes = response.lastIndexOf("####");
  if (hashes >= 0) {
    const text = response.slice(hashes + 4).split("\n", 1)[0]!.trim();
    if (text !== "") return { text, source: "hashes" };
  }
  const boxed = lastBoxed(response);
  if (boxed !== undefined && boxed.trim() !== "") return { text: boxed.trim(), source: "boxed" };
  const answerIs = lastAnswerIs(response);
  if (answerIs !== undefined) return { text: answerIs, source: "answer-is" };
  const tokens = numberTokens(cleanLatex(response));
  const last = tokens.at(-1);
  if (last !== undefined) return { text: formatToken(last), source: "last-number" };
  return undefined;
}

/** Normalises a final-answer string (units, `$`, `%`, thousands separators, LaTeX fractions); `undefined` if empty. */
export function normalizeAnswer(raw: string, options: { firstNumber?: boolean } = {}): NormalizedAnswer | undefined {
  let text = cleanLatex(raw);
  // "x = 5" or "total = 3 + 4 = 7": the answer is what the last equals sign gives.
  const eq = text.lastIndexOf("=");
  if (eq >= 0 && text.slice(eq + 1).trim() !== "") text = text.slice(eq + 1);
  text = text.trim().replace(/[.,;:!?]+$/, "").trim();
  // A squared/cubed unit after a number ("20 cm^2") would otherwise read as a second number.
  text = text.replace(/^([-+]?[\d.\/]+\s*[A-Za-z]+)\s*\^\s*\{?\d\}?$/, "$1");
  if (text === "") return undefined;
  const tokens = numberTokens(text);
  const leftover = removeTokens(text, tokens);
  const token = tokens.length === 1 || (options.firstNumber && tokens.length > 1) ? tokens[0] : undefined;
  // Only words, units and punctuation may surround the number; anything else (`\sqrt`, `^`, `x+`) makes it an
  // expression, compared as text.
  if (token !== undefined && (options.firstNumber || /^[\sA-Za-z%'"(){}\[\].,:;!?]*$/.test(leftover))) {
    return { kind: "number", value: token.value, percent: token.percent, canonical: formatRational(token.value) };
  }
  const canonical = text.toLowerCase().replace(/\\left|\\right/g, "").replace(/\s+/g, "");
  return canonical === "" ? undefined : { kind: "text", canonical };
}

/** True when two normalised answers denote the same value (a percent on one side also matches value/100). */
export function answersMatch(a: NormalizedAnswer, b: NormalizedAnswer): boolean {
  if (a.kind === "text" || b.kind === "text") return a.kind === b.kind && a.canonical === b.canonical;
  if (equals(a.value, b.value)) return true;
  if (a.percent === b.percent) return false;
  const [pct, plain] = a.percent ? [a.value, b.value] : [b.value, a.value];
  const scaled = divide(pct, { num: 100n, den: 1n });
  return scaled !== undefined && equals(scaled, plain);
}

/** Verifies a response against a reference answer. Never throws: odd input yields "unparseable" with a reason. */
export function verify(response: string, reference: string): VerifyResult {
  try {
    if (typeof response !== "string" || typeof reference !== "string") {
      return { verdict: "unparseable", reason: "response and reference must be strings" };
    }
    // A reference may be a bare answer or a whole GSM8K/MATH solution; take its marked answer if it has one.
    const marked = /####|\\boxed|\\fbox/.test(reference) ? extractAnswer(reference) : undefined;
    const ref = normalizeAnswer(marked?.text ?? reference);
    if (ref === undefined) return { verdict: "unparseable", reason: "reference answer is empty" };
    const found = extractAnswer(response);
    if (found === undefined) return { verdict: "unparseable", reference: ref.canonical, reason: "no answer found" };
    const predicted = normalizeAnswer(found.text, { firstNumber: found.source === "answer-is" });
    if (predicted === undefined) {
      return { verdict: "unparseable", reference: ref.canonical, reason: `empty answer after ${found.source}` };
    }
    const verdict = answersMatch(predicted, ref) ? "correct" : "incorrect";
    return { verdict, predicted: predicted.canonical, reference: ref.canonical };
  } catch (error) {
    return { verdict: "unparseable", reason: `verifier error: ${error instanceof Error ? error.message : error}` };
  }
}

/** Rewrites LaTeX and formatting noise into plain text: fractions to `a/b`, no `$`, `\text{}`, separators. */
export function cleanLatex(input: string): string {
  let s = input.replace(/[\u2212\u2012\u2013\u2014]/g, "-").replace(/\*\*/g, "");
  s = s.replace(/\\[dt]frac/g, "\\frac").replace(/\\left|\\right/g, "");
  s = s.replace(/\\(?:text|textbf|mathrm|mathbf|mbox|textrm)\s*\{([^{}]*)\}/g, " $1 ");
  s = s.replace(/(\d)\s*(?:\{,\}|\\,)\s*(?=\d{3})/g, "$1,");
  s = s.replace(/\^\s*\{?\\circ\}?|\\circ|°/g, "").replace(/\\%/g, "%").replace(/\\\$/g, "$");
  s = s.replace(/\\[()[\]]/g, " ").replace(/\$/g, "").replace(/\\[!,;: ]/g, " ");
  // Innermost fractions first, so `\frac{\frac{1}{2}}{3}` unwinds from the inside out.
  for (let guard = 0; guard < 20; guard++) {
    const next = s
      .replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, (_, a: string, b: string) => fractionText(a, b))
      .replace(/\\frac\s*(\d)\s*(\d)/g, "$1/$2");
    if (next === s) break;
    s = next;
  }
  // Thousands separators: only well-formed groups of three, so "3,4" (a list) stays two numbers.
  s = s.replace(/\d{1,3}(?:,\d{3})+(?![\d])/g, (m) => m.replace(/,/g, ""));
  return s;
}

function fractionText(a: string, b: string): string {
  const top = simpleFraction(a);
  const bottom = simpleFraction(b);
  const value = top && bottom ? divide(top, bottom) : undefined;
  return value ? formatRational(value) : `(${a})/(${b})`;
}

// `3`, `-1.5` or `1/2` (an already unwound inner fraction); anything else is an expression.
function simpleFraction(text: string): Rational | undefined {
  const [top, bottom, extra] = text.trim().split("/");
  if (extra !== undefined || top === undefined) return undefined;
  const numerator = parseDecimal(top.trim());
  if (bottom === undefined || numerator === undefined) return numerator;
  const denominator = parseDecimal(bottom.trim());
  return denominator && divide(numerator, denominator);
}

function numberTokens(text: string): NumberToken[] {
  const tokens: NumberToken[] = [];
  for (const match of text.matchAll(NUMBER)) {
    const numerator = parseDecimal(match[1]!);
    if (numerator === undefined) continue;
    let value: Rational | undefined = numerator;
    if (match[2] !== undefined) {
      const denominator = parseDecimal(match[2]);
      value = denominator === undefined ? undefined : divide(numerator, denominator);
    }
    if (value === undefined) continue;
    const end = match.index + match[0].length;
    const percent = /^\s*(?:%|percent\b)/i.test(text.slice(end));
    tokens.push({ value, percent, start: match.index, end });
  }
  return tokens;
}

function removeTokens(text: string, tokens: NumberToken[]): string {
  let out = "";
  let at = 0;
  for (const token of tokens) {
    out += text.slice(at, token.start);
    at = token.end;
  }
  return out + text.slice(at);
}

function formatToken(token: NumberToken): string {
  return formatRational(token.value) + (token.percent ? "%" : "");
}

function lastBoxed(text: string): string | undefined {
  const re = /\\(?:boxed|fbox)\s*/g;
  let last: RegExpExecArray | undefined;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m;
  if (last === undefined) return undefined;
  let i = last.index + last[0].length;
  if (text[i] !== "{") return /^[^\s$]+/.exec(text.slice(i))?.[0];
  let depth = 0;
  const start = i + 1;
  for (; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(start, i);
  }
  return undefined; // unbalanced braces: no trustworthy boxed answer
}

function lastAnswerIs(text: string): string | undefined {
  const re = /\banswer\s*(?:is|:|=)\s*:?/gi;
  let last: RegExpExecArray | undefined;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m;
  if (last === undefined) return undefined;
  const rest = text.slice(last.index + last[0].length).split("\n", 1)[0]!;
  // End at a sentence break ("7. Then...") but not inside a decimal ("3.5").
  const sentence = rest.split(/\.(?=\s|$)/, 1)[0]!.trim();
  return sentence === "" ? undefined : sentence;
}
