/**
 * Fuzz: seeded random LaTeX and mutations of the table's answers. The verifier must never throw, always return a
 * verdict, and finish every call within its deadline (plus one uninterruptible step of slack).
 */
import { ok } from "node:assert";
import { Rng } from "../../shared/mod.ts";
import { verify, warmVerifier } from "./verifier.ts";
import { CASES } from "./cases.ts";

const TOKENS = [
  "\\frac{",
  "}{",
  "}",
  "{",
  "\\sqrt{",
  "\\sqrt[3]{",
  "^",
  "_",
  "(",
  ")",
  "[",
  "]",
  "\\{",
  "\\}",
  ",",
  "=",
  "<",
  "\\le",
  "\\pm",
  "\\cup",
  "\\infty",
  "\\pi",
  "x",
  "y",
  "n",
  "2",
  "7",
  "0",
  ".",
  "-",
  "+",
  "\\cdot",
  "\\times",
  "\\text{",
  "\\boxed{",
  "\\left(",
  "\\right)",
  "\\begin{pmatrix}",
  "\\end{pmatrix}",
  "&",
  "\\\\",
  "%",
  "\\$",
  "\\sin",
  "\\log",
  "!",
  "#### ",
  "\\,",
  "\\!",
  "10^{",
  "99999999999",
  "e",
  "\\dfrac",
  "$",
  " ",
  "\n",
];
const TIMEOUT_MS = 500;
const SLACK_MS = 1000; // one uninterruptible engine parse of odd input: ~5 ms idle, up to ~0.5 s seen at load average 40

function randomLatex(rng: Rng): string {
  let s = "";
  for (let n = rng.int(1, 40); n > 0; n--) s += rng.pick(TOKENS);
  return s;
}

function mutate(rng: Rng, text: string): string {
  let s = text;
  for (let n = rng.int(1, 4); n > 0; n--) {
    const at = rng.int(0, s.length);
    const op = rng.int(0, 3);
    if (op === 0) s = s.slice(0, at) + rng.pick(TOKENS) + s.slice(at);
    else if (op === 1) s = s.slice(0, at) + s.slice(at + rng.int(1, 3));
    else if (op === 2) s = s + s.slice(0, at);
    else s = s.slice(at) + s.slice(0, at);
  }
  return s;
}

Deno.test("fuzz - random and mutated LaTeX never throws and stays within the deadline", () => {
  const rng = new Rng(20261201);
  const rows = Object.values(CASES).flat();
  warmVerifier(); // the engine's one-time start-up is not a comparison
  let worst = 0;
  let calls = 0;
  for (let i = 0; i < 1500; i++) {
    const row = rng.pick(rows);
    const response = i % 3 === 0 ? randomLatex(rng) : mutate(rng, row[0]);
    const reference = i % 5 === 0 ? randomLatex(rng) : i % 2 === 0 ? mutate(rng, row[1]) : row[1];
    const start = performance.now();
    const result = verify(response, reference, { timeoutMs: TIMEOUT_MS });
    const ms = performance.now() - start;
    worst = Math.max(worst, ms);
    calls++;
    ok(["correct", "incorrect", "unparseable"].includes(result.verdict), JSON.stringify([response, reference]));
    ok(ms <= TIMEOUT_MS + SLACK_MS, `${ms.toFixed(0)} ms for ${JSON.stringify([response, reference])}`);
  }
  console.log(`fuzz: ${calls} verifications, slowest ${worst.toFixed(1)} ms`);
});
