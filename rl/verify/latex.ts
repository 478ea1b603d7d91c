/**
 * LaTeX to MathJSON through `@cortex-js/compute-engine` (the engine plays sympy's part in Math-Verify: it parses
 * LaTeX and canonicalises it — `\sqrt{8}` to `2\sqrt{2}`, `1.5\times10^3` to 1500). The engine is synchronous and
 * cannot be interrupted, so the work per call is bounded up front: inputs longer than {@link MAX_LATEX_CHARS} or
 * results larger than {@link MAX_NODES} are refused, and parses are cached (a GRPO group shares one reference).
 */

import { createRequire } from "node:module";
import type { ComputeEngine } from "@cortex-js/compute-engine";
import { checkActiveBudget, extendActiveBudget } from "./budget.ts";
import { type MathJson, nodeCount } from "./evaluate.ts";

/** Longest LaTeX the engine is asked to parse (final answers are short; longer ones are refused as unparseable). */
export const MAX_LATEX_CHARS = 400;
/** Largest parsed expression compared (nodes of MathJSON). */
export const MAX_NODES = 400;
// Nesting deeper than this makes the engine's recursive descent slow; no real answer needs it.
const MAX_DEPTH = 24;
const CACHE_SIZE = 2048;

let engine: ComputeEngine | undefined;
const cache = new Map<string, MathJson | string>();

/** A refusal to parse, with the reason. */
export interface ParseError {
  error: string;
}

/** Whether a {@link parseLatex} result is a refusal. */
export function isParseError(value: MathJson | ParseError): value is ParseError {
  return typeof value === "object" && !Array.isArray(value) && "error" in value;
}

/**
 * Loads the engine and warms it up (its first parses are slow while V8 compiles it). Loading takes 1-2 s, so it is
 * done on first use, not at import: most processes import rl/ without ever verifying, and plain numbers (GSM8K)
 * never need the engine. The time is not charged to the deadline of the verification that triggers it.
 */
export function warmEngine(): ComputeEngine {
  if (engine === undefined) {
    const start = performance.now();
    // A synchronous require (the package's CommonJS build) because verify() is synchronous.
    const { ComputeEngine: Engine } = createRequire(import.meta.url)("@cortex-js/compute-engine") as {
      ComputeEngine: new () => ComputeEngine;
    };
    engine = new Engine();
    for (const latex of ["\\frac{1+\\sqrt{5}}{2}", "(x-2)(x+2)=x^2-4", "[0,1)", "\\sin^2 x+\\pi r^2"]) {
      engine.parse(latex);
    }
    extendActiveBudget(performance.now() - start);
  }
  return engine;
}

/** MathJSON for `latex`, or why it was refused (too long, too deep, a parse error). */
export function parseLatex(latex: string): MathJson | ParseError {
  const hit = cache.get(latex);
  if (hit !== undefined) return typeof hit === "string" && hit.startsWith("!") ? { error: hit.slice(1) } : hit;
  const result = parseUncached(latex);
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(latex, isParseError(result) ? `!${result.error}` : result);
  return result;
}

function parseUncached(latex: string): MathJson | ParseError {
  if (latex.length > MAX_LATEX_CHARS) return { error: `longer than ${MAX_LATEX_CHARS} characters` };
  if (nesting(latex) > MAX_DEPTH) return { error: `nested deeper than ${MAX_DEPTH}` };
  checkActiveBudget();
  let json: MathJson;
  try {
    json = warmEngine().parse(latex).json as MathJson;
  } catch (error) {
    return { error: `parse failed: ${error instanceof Error ? error.message : error}` };
  }
  if (hasError(json)) return { error: "not valid LaTeX math" };
  if (nodeCount(json) > MAX_NODES) return { error: `more than ${MAX_NODES} nodes` };
  return json;
}

function nesting(text: string): number {
  let depth = 0;
  let max = 0;
  for (const ch of text) {
    if (ch === "{" || ch === "(" || ch === "[") max = Math.max(max, ++depth);
    else if (ch === "}" || ch === ")" || ch === "]") depth--;
  }
  return max;
}

function hasError(json: MathJson): boolean {
  if (!Array.isArray(json)) return false;
  if (json[0] === "Error" || json[0] === "LatexString") return true;
  return json.some((part) => hasError(part));
}
