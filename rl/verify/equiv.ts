/**
 * Equivalence of two scalar expressions. Constants are compared exactly when both are rational (`\frac{1}{12}`,
 * `1.5\times10^3`), by Math-Verify's rounding when one side is a written decimal (`0.333333` vs `\frac13` at 6
 * places), and otherwise in floating point within a relative tolerance. Expressions with variables are sampled at
 * fixed pseudo-random rational points: where both sides are rational functions the values are exact bigint
 * rationals, so a polynomial identity such as `(x-2)(x+2)` = `x^2-4` is decided exactly (two different rational
 * functions agree on at most finitely many points); elsewhere the float values must agree within tolerance.
 */

import { equals, type Rational } from "./rational.ts";
import { evalExact, evalFloat, freeSymbols, type MathJson, UnsupportedExpression } from "./evaluate.ts";
import { type Budget, checkBudget } from "./budget.ts";

/** Numeric comparison settings. */
export interface Tolerance {
  /** Relative tolerance for values that are not exact rationals (evaluated radicals, π, logs). */
  relativeTolerance: number;
  /** Decimal places both sides are rounded to when one side is a written decimal (Math-Verify's float_rounding). */
  floatRounding: number;
}

const MAX_VARIABLES = 6;
const SAMPLE_POINTS = 8;
// Points where both sides must be defined for a verdict; fewer (a domain that avoids every sample) is "not equal".
const MIN_DEFINED = 4;
// Sample values: ± small non-integer rationals, distinct per variable, so no accidental symmetry hides a difference.
const NUMERATORS = [7, -5, 11, 13, -17, 19, 23, -29, 31, -37, 41, 43, -47, 53];
const DENOMINATORS = [3, 2, 7, 4, 5, 9, 8, 11];

/** Whether the two expressions denote the same value (for every value of their variables). */
export function expressionsEqual(a: MathJson, b: MathJson, tol: Tolerance, budget: Budget): boolean {
  if (JSON.stringify(a) === JSON.stringify(b)) return true;
  const vars = [...new Set([...freeSymbols(a), ...freeSymbols(b)])].sort();
  if (vars.length > MAX_VARIABLES) return false;
  try {
    if (vars.length === 0) return constantsEqual(a, b, tol);
    return sampledEqual(a, b, vars, tol, budget);
  } catch (error) {
    if (error instanceof UnsupportedExpression) return false;
    throw error;
  }
}

/** Whether `a` = c·`b` for some constant c (c > 0 when `positive`): the test for equivalent equations/inequalities. */
export function proportional(a: MathJson, b: MathJson, positive: boolean, tol: Tolerance, budget: Budget): boolean {
  const vars = [...new Set([...freeSymbols(a), ...freeSymbols(b)])].sort();
  if (vars.length > MAX_VARIABLES) return false;
  let ratio: number | undefined;
  try {
    let defined = 0;
    for (let i = 0; i < SAMPLE_POINTS; i++) {
      checkBudget(budget);
      const env = floatEnv(vars, i);
      const [fa, fb] = [evalFloat(a, env), evalFloat(b, env)];
      if (!Number.isFinite(fa) || !Number.isFinite(fb)) continue;
      if (fb === 0 || fa === 0) {
        if (!close(fa, fb, tol.relativeTolerance)) return false;
        continue;
      }
      const r = fa / fb;
      if (ratio === undefined) ratio = r;
      else if (!close(r, ratio, tol.relativeTolerance * 1e3)) return false;
      defined++;
    }
    return ratio !== undefined && defined >= MIN_DEFINED && (!positive || ratio > 0);
  } catch (error) {
    if (error instanceof UnsupportedExpression) return false;
    throw error;
  }
}

function constantsEqual(a: MathJson, b: MathJson, tol: Tolerance): boolean {
  const [ea, eb] = [evalExact(a, new Map()), evalExact(b, new Map())];
  const approximate = hasDecimal(a) || hasDecimal(b);
  if (ea !== undefined && eb !== undefined && equals(ea, eb)) return true;
  const [fa, fb] = [evalFloat(a, new Map()), evalFloat(b, new Map())];
  if (Number.isNaN(fa) || Number.isNaN(fb)) return false;
  if (!Number.isFinite(fa) || !Number.isFinite(fb)) return fa === fb;
  if (approximate && roundedEqual(ea, fa, eb, fb, tol.floatRounding)) return true;
  // Two exact rationals that differ are different, however close.
  if (ea !== undefined && eb !== undefined) return false;
  return close(fa, fb, tol.relativeTolerance);
}

// Math-Verify rounds both sides to `places` decimals when either is a float, so 0.333333 matches 1/3.
function roundedEqual(ea: Rational | undefined, fa: number, eb: Rational | undefined, fb: number, places: number) {
  const scale = 10 ** places;
  if (Math.abs(fa) * scale > 2 ** 52 || Math.abs(fb) * scale > 2 ** 52) return false;
  const round = (exact: Rational | undefined, f: number) =>
    exact ? roundRational(exact, places) : Math.round(f * scale);
  return round(ea, fa) === round(eb, fb);
}

function roundRational(value: Rational, places: number): number {
  const scaled = value.num * 10n ** BigInt(places);
  const twice = (2n * scaled) / value.den;
  // Half away from zero, like Python's Decimal rounding of a shown value.
  const rounded = twice >= 0n ? (twice + 1n) / 2n : -((-twice + 1n) / 2n);
  return Number(rounded);
}

function sampledEqual(a: MathJson, b: MathJson, vars: string[], tol: Tolerance, budget: Budget): boolean {
  let defined = 0;
  for (let i = 0; i < SAMPLE_POINTS; i++) {
    checkBudget(budget);
    const exactEnv = rationalEnv(vars, i);
    const [ea, eb] = [evalExact(a, exactEnv), evalExact(b, exactEnv)];
    if (ea !== undefined && eb !== undefined) {
      if (!equals(ea, eb)) return false;
      defined++;
      continue;
    }
    const env = floatEnv(vars, i);
    const [fa, fb] = [evalFloat(a, env), evalFloat(b, env)];
    const [okA, okB] = [Number.isFinite(fa), Number.isFinite(fb)];
    if (okA !== okB) return false; // defined on one side only: different functions (ln(x^2) vs 2ln(x))
    if (!okA) continue;
    if (!close(fa, fb, tol.relativeTolerance)) return false;
    defined++;
  }
  return defined >= MIN_DEFINED;
}

function rationalEnv(vars: string[], point: number): Map<string, Rational> {
  return new Map(vars.map((v, k) => {
    const [num, den] = samplePoint(point, k);
    return [v, { num: BigInt(num), den: BigInt(den) }];
  }));
}

function floatEnv(vars: string[], point: number): Map<string, number> {
  return new Map(vars.map((v, k) => {
    const [num, den] = samplePoint(point, k);
    return [v, num / den];
  }));
}

function samplePoint(point: number, variable: number): [number, number] {
  const num = NUMERATORS[(point * 3 + variable * 5) % NUMERATORS.length]!;
  const den = DENOMINATORS[(point + variable * 3) % DENOMINATORS.length]!;
  return num % den === 0 ? [num, den + 1] : [num, den];
}

function close(a: number, b: number, rel: number): boolean {
  const scale = Math.max(Math.abs(a), Math.abs(b));
  // Absolute floor for values that should be zero (sin π evaluates to 1e-16).
  return Math.abs(a - b) <= rel * scale || Math.abs(a - b) <= 1e-12;
}

/** Whether the expression contains a written decimal (0.5, 1.25), which makes Math-Verify compare by rounding. */
export function hasDecimal(json: MathJson): boolean {
  if (typeof json === "number") return !Number.isInteger(json);
  if (Array.isArray(json)) return json.slice(1).some(hasDecimal);
  return typeof json === "object" && "num" in json && json.num.includes(".");
}
