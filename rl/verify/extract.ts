/**
 * Finds the final answer in a response, in the order datasets and models mark it: GSM8K's `#### 42`, the last
 * `\boxed{...}` (MATH), "the (final) answer is ...", and otherwise the final line. A final line of prose gives
 * its last math (`$...$`, or the last run of digits and operators), never a number picked out of the middle of
 * an expression: `(0, 1)` stays a pair, it is not read as `1`.
 */

import { matchBrace } from "./clean.ts";

/** Where in the response the final answer was found. */
export type AnswerSource = "hashes" | "boxed" | "answer-is" | "final-line";

/** The raw final-answer text found in a response. */
export interface ExtractedAnswer {
  text: string;
  source: AnswerSource;
}

/** The final-answer text of a response, or `undefined` when there is none. */
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
  const line = finalLine(response);
  return line === undefined ? undefined : { text: line, source: "final-line" };
}

/** The content of the last `\boxed{...}`/`\fbox{...}`; `undefined` if there is none or its braces are unbalanced. */
export function lastBoxed(text: string): string | undefined {
  const re = /\\(?:boxed|fbox)\s*/g;
  let last: RegExpExecArray | undefined;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m;
  if (last === undefined) return undefined;
  const open = last.index + last[0].length;
  if (text[open] !== "{") return /^[^\s$]+/.exec(text.slice(open))?.[0];
  const close = matchBrace(text, open);
  return close < 0 ? undefined : text.slice(open + 1, close);
}

function lastAnswerIs(text: string): string | undefined {
  const re = /\banswer\s*(?:is|:|=)\s*:?\**\s*/gi;
  let last: RegExpExecArray | undefined;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m;
  if (last === undefined) return undefined;
  const rest = text.slice(last.index + last[0].length).split("\n", 1)[0]!;
  const math = lastInlineMath(rest);
  if (math !== undefined) return math;
  // End at a sentence break ("7. Then...") but not inside a decimal ("3.5").
  const sentence = rest.split(/\.(?=\s|$)|,\s+(?:because|since|so|which)\b/, 1)[0]!.trim();
  return sentence === "" ? undefined : sentence;
}

// The first `$...$`, `\(...\)` or `\[...\]` of a line (the answer right after "the answer is").
function lastInlineMath(line: string): string | undefined {
  const m = /\$\$?([^$]+)\$\$?|\\\((.+?)\\\)|\\\[(.+?)\\\]/.exec(line);
  const body = m?.[1] ?? m?.[2] ?? m?.[3];
  return body?.trim() || undefined;
}

function finalLine(text: string): string | undefined {
  // A dangling answer marker (`... 7+2=9. ###`, a response cut short) is not part of the last statement.
  const lines = text.replace(/[#\s]+$/, "").split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const line = lines.at(-1)?.replace(/^\*+|\*+$/g, "").trim();
  if (line === undefined || line === "") return undefined;
  const maths = [...line.matchAll(/\$\$?([^$]+)\$\$?|\\\((.+?)\\\)|\\\[(.+?)\\\]/g)];
  const lastMath = maths.at(-1);
  if (lastMath) return (lastMath[1] ?? lastMath[2] ?? lastMath[3])!.trim();
  // The last statement of the line: "3+4=7. 7+2=9." ends with 7+2=9 (a decimal point has no space after it).
  const statement = line.split(/\.\s+/).filter((s) => s.trim() !== "").at(-1)!.trim();
  if (!isProse(line)) return statement;
  const run = lastMathRun(line);
  // Prose with no math ("Monday", "no solution"): the line itself, which only a text answer can equal.
  return run ?? line;
}

// Prose: a word of three or more letters that is not a LaTeX command.
function isProse(line: string): boolean {
  // Words inside \text{} belong to the answer (`\text{Monday}`, `5\text{ cm}`), not to prose around it.
  const math = line.replace(/\\(?:text|textbf|mathrm|mbox)\s*\{[^{}]*\}/g, "")
    .replace(/\\(?:begin|end)\{[A-Za-z*]+\}/g, "").replace(/\\[A-Za-z]+/g, "");
  return /(?<![\\A-Za-z])[A-Za-z]{3,}/.test(math);
}

// The last stretch of a prose line between words that holds a digit: "she has 10 - 3 = 7 left" gives
// `10 - 3 = 7`, "the interval is (0, 1)." gives `(0, 1)`. Single letters stay (they may be variables).
function lastMathRun(line: string): string | undefined {
  const runs = line.split(/(?<![\\A-Za-z])[A-Za-z]{2,}(?![A-Za-z])/);
  for (let i = runs.length - 1; i >= 0; i--) {
    const run = runs[i]!.trim().replace(/^[.,;:=]+|[.,;:?]+$/g, "").trim();
    if (/\d/.test(run)) return run;
  }
  return undefined;
}
