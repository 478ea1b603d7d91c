/**
 * Rule-based negative synthesis for Cooper's reward-model update: rewrite a correct response into a plausible
 * wrong one. The paper prompts an assistant LLM with the problem and the correct response; for the built-in
 * tasks (solutions as `a op b = c` steps) a rule rewrite does the same job deterministically: it perturbs one
 * step and carries the error consistently through every later step and the final answer, so the negative reads
 * like a real arithmetic mistake rather than a mismatched last line. Callers still filter with the verifier.
 */

import type { Rng } from "../shared/mod.ts";

/** How a negative was made. */
export type NegativeStrategy =
  | "final-slip"
  | "intermediate-slip"
  | "wrong-operation"
  | "drop-step"
  | "answer-swap"
  // Proposed by an assistant model actor (real data).
  | "assistant"
  // Not a rewrite: one of the policy's own samples of the same prompt that the verifier marked wrong.
  | "policy";

/** What a synthesizer rewrites. */
export interface NegativeInput {
  question: string;
  reference: string;
  /** A response the verifier marked correct. */
  response: string;
}

/** One proposed negative. */
export interface NegativeCandidate {
  text: string;
  strategy: NegativeStrategy;
}

/**
 * Anything that proposes negatives, best first: this rule rewriter for built-in tasks, or an in-cluster
 * assistant-model actor for real data (hence the optional Promise).
 */
export interface NegativeSynthesizer {
  candidates(input: NegativeInput, rng: Rng): NegativeCandidate[] | Promise<NegativeCandidate[]>;
}

type StepOp = "+" | "-" | "*";

/** An `a op b = c` step found in a response, with the character spans of its numbers. */
export interface ParsedStep {
  a: number;
  op: StepOp;
  b: number;
  result: number;
  start: number;
  end: number;
  spans: { a: [number, number]; op: [number, number]; b: [number, number]; result: [number, number] };
}

const STEP = /(?<![\w.])(\d+)\s*([-+*x×])\s*(\d+)\s*=\s*(\d+)(?![\d.]\d)/g;

/** Finds the integer arithmetic steps of a response, in order. */
export function parseSteps(text: string): ParsedStep[] {
  const steps: ParsedStep[] = [];
  for (const m of text.matchAll(STEP)) {
    const [whole, a, rawOp, b, result] = m as unknown as [string, string, string, string, string];
    const op: StepOp = rawOp === "+" ? "+" : rawOp === "-" ? "-" : "*";
    // Spans are found left to right inside the match so repeated digits ("3+3=6") land on the right place.
    const at = m.index;
    const aStart = at;
    const opStart = whole.indexOf(rawOp, a.length) + at;
    const bStart = whole.indexOf(b, opStart - at + rawOp.length) + at;
    const eq = whole.indexOf("=", bStart - at + b.length) + at;
    const rStart = whole.indexOf(result, eq - at + 1) + at;
    steps.push({
      a: Number(a),
      op,
      b: Number(b),
      result: Number(result),
      start: at,
      end: at + whole.length,
      spans: {
        a: [aStart, aStart + a.length],
        op: [opStart, opStart + rawOp.length],
        b: [bStart, bStart + b.length],
        result: [rStart, rStart + result.length],
      },
    });
  }
  return steps;
}

/** Options for {@link RuleNegativeSynthesizer}. */
export interface RuleNegativeOptions {
  /** Strategies to try (default all). */
  strategies?: readonly NegativeStrategy[];
  /** Largest absolute slip added to a number (default 3). */
  maxSlip?: number;
}

const ALL_STRATEGIES: readonly NegativeStrategy[] = [
  "final-slip",
  "intermediate-slip",
  "wrong-operation",
  "drop-step",
  "answer-swap",
];

/** The rule-based rewriter for built-in tasks; strategies are tried in a seeded random order. */
export class RuleNegativeSynthesizer implements NegativeSynthesizer {
  readonly #strategies: readonly NegativeStrategy[];
  readonly #maxSlip: number;

  constructor(options: RuleNegativeOptions = {}) {
    this.#strategies = options.strategies ?? ALL_STRATEGIES;
    this.#maxSlip = options.maxSlip ?? 3;
  }

  /** Proposes up to one negative per strategy, deduplicated, none equal to the input. */
  candidates(input: NegativeInput, rng: Rng): NegativeCandidate[] {
    const steps = parseSteps(input.response);
    const out: NegativeCandidate[] = [];
    const seen = new Set([input.response]);
    for (const strategy of rng.shuffle(this.#strategies)) {
      const text = this.#rewrite(strategy, input.response, steps, rng);
      if (text !== undefined && !seen.has(text)) {
        seen.add(text);
        out.push({ text, strategy });
      }
    }
    return out;
  }

  #rewrite(strategy: NegativeStrategy, text: string, steps: ParsedStep[], rng: Rng): string | undefined {
    const last = steps.length - 1;
    switch (strategy) {
      case "final-slip":
        return last < 0 ? undefined : propagate(text, steps, last, { result: this.#slip(steps[last]!.result, rng) });
      case "intermediate-slip": {
        if (steps.length < 2) return undefined;
        const j = rng.int(0, last - 1);
        return propagate(text, steps, j, { result: this.#slip(steps[j]!.result, rng) });
      }
      case "wrong-operation": {
        if (last < 0) return undefined;
        const j = rng.int(0, last);
        const step = steps[j]!;
        const op = rng.pick((["+", "-", "*"] as const).filter((o) => o !== step.op && !(o === "-" && step.a < step.b)));
        return propagate(text, steps, j, { op, result: apply(step.a, op, step.b) });
      }
      case "drop-step": {
        if (steps.length < 2) return undefined;
        const kept = steps[last - 1]!.result;
        // Cut the last step through its sentence end, then restate the answer as the previous result.
        const cut = text.slice(steps[last]!.end).replace(/^\s*[.,;]?\s*/, " ");
        const head = text.slice(0, steps[last]!.start).trimEnd();
        return replaceAnswer(`${head}${cut}`, head.length, steps[last]!.result, kept);
      }
      case "answer-swap": {
        const answer = steps.at(-1)?.result ?? lastInteger(text);
        if (answer === undefined) return undefined;
        return replaceAnswer(text, 0, answer, this.#slip(answer, rng));
      }
    }
  }

  #slip(value: number, rng: Rng): number {
    // Small slips read as real mistakes; stay non-negative when the value is, as the tasks' answers are.
    for (let tries = 0; tries < 10; tries++) {
      const delta = rng.int(1, this.#maxSlip) * (rng.next() < 0.5 ? -1 : 1);
      if (value + delta >= 0 || value < 0) return value + delta;
    }
    return value + 1;
  }
}

function apply(a: number, op: StepOp, b: number): number {
  return op === "+" ? a + b : op === "-" ? a - b : a * b;
}

type Edit = { span: [number, number]; text: string };

/**
 * Changes step j (its op and/or result), recomputes every later step whose first operand chained from the
 * previous result, and rewrites the final answer after the last step.
 */
function propagate(
  text: string,
  steps: ParsedStep[],
  j: number,
  change: { op?: StepOp; result: number },
): string | undefined {
  const edits: Edit[] = [];
  const step = steps[j]!;
  if (change.op !== undefined) edits.push({ span: step.spans.op, text: change.op });
  edits.push({ span: step.spans.result, text: String(change.result) });
  let previousOld = step.result;
  let previousNew = change.result;
  let reached = j;
  for (let i = j + 1; i < steps.length; i++) {
    const s = steps[i]!;
    let { a, b } = s;
    if (s.a === previousOld) {
      a = previousNew;
      edits.push({ span: s.spans.a, text: String(a) });
    } else if (s.b === previousOld) {
      b = previousNew;
      edits.push({ span: s.spans.b, text: String(b) });
    } else {
      break; // the chain is broken; later steps do not depend on the change
    }
    const result = apply(a, s.op, b);
    edits.push({ span: s.spans.result, text: String(result) });
    previousOld = s.result;
    previousNew = result;
    reached = i;
  }
  const lastStep = steps.at(-1)!;
  const finalOld = lastStep.result;
  // A change that does not reach the last step (or cancels out) leaves the answer right: not a negative.
  if (reached !== steps.length - 1 || previousNew === finalOld) return undefined;
  const finalNew = previousNew;
  const edited = applyEdits(text, edits);
  const offset = edited.length - text.length;
  return replaceAnswer(edited, lastStep.end + offset, finalOld, finalNew);
}

function applyEdits(text: string, edits: Edit[]): string {
  let out = text;
  for (const edit of [...edits].sort((x, y) => y.span[0] - x.span[0])) {
    out = out.slice(0, edit.span[0]) + edit.text + out.slice(edit.span[1]);
  }
  return out;
}

/** Replaces standalone occurrences of `from` at or after `start` with `to` (the `#### x`, `\boxed{x}` lines). */
function replaceAnswer(text: string, start: number, from: number, to: number): string | undefined {
  if (from === to) return undefined;
  const pattern = new RegExp(`(?<![\\w.])${escape(String(from))}(?![\\w]|\\.\\d)`, "g");
  const tail = text.slice(start).replace(pattern, String(to));
  const out = text.slice(0, start) + tail;
  return out === text ? undefined : out;
}

function escape(text: string): string {
  return text.replace(/[-+.*]/g, "\\$&");
}

function lastInteger(text: string): number | undefined {
  const all = [...text.matchAll(/(?<![\w.])-?\d+(?![\w]|\.\d)/g)];
  const last = all.at(-1);
  return last === undefined ? undefined : Number(last[0]);
}

/**
 * The reverse of a rewrite: a wrong response repaired to the reference answer, for a Cooper pair (repaired, wrong)
 * whose two sides differ only where the answer does. The final answer after the last `####` becomes the reference,
 * and so does the result of the step right before it when that result was the old final answer
 * (`15+9=14. #### 14` → `15+9=24. #### 24`). Undefined when there is no `####` line; callers check the repaired
 * text with the verifier.
 */
export function repairToReference(response: string, reference: string): string | undefined {
  const at = response.lastIndexOf("####");
  if (at < 0) return undefined;
  const old = response.slice(at + 4).trim();
  let body = response.slice(0, at);
  const last = /=\s*([^\s=]+?)(\.?\s*)$/.exec(body);
  if (last !== null && old !== "" && last[1] === old) {
    body = body.slice(0, last.index) + `=${reference}` + last[2];
  }
  const repaired = `${body}#### ${reference}`;
  return repaired === response ? undefined : repaired;
}
