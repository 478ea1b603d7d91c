/**
 * Evaluators over compute-engine's MathJSON: exact (bigint rationals, for rational functions at rational points) and
 * floating point (for radicals, π, logs, trig). Equivalence checking samples expressions at random points with these
 * instead of asking the engine to simplify, which is both faster and bounded: every node costs O(1) work except
 * powers and factorials, whose sizes are capped.
 */

import { CoopError } from "../../shared/mod.ts";
import { parseDecimal, type Rational, rational } from "./rational.ts";

/** A MathJSON expression as `BoxedExpression.json` gives it. */
export type MathJson = number | string | { num: string } | { sym: string } | { str: string } | MathJson[];

/** Thrown (and caught inside this folder) when an expression holds something the evaluators cannot compute. */
export class UnsupportedExpression extends CoopError {
  override name = "UnsupportedExpression";
}

// Bigints above this many bits are not worth exact arithmetic (10^300-ish); the float path takes over.
const MAX_BITS = 1024n;
const MAX_FACTORIAL = 170;

const CONSTANTS: Record<string, number> = { Pi: Math.PI, ExponentialE: Math.E };

/** Symbols in an expression that are free variables (not π, e, ∞ or a function head). */
export function freeSymbols(json: MathJson, out = new Set<string>()): Set<string> {
  if (typeof json === "string") {
    if (isSymbol(json)) out.add(json);
  } else if (Array.isArray(json)) {
    for (const arg of json.slice(1)) freeSymbols(arg, out);
  } else if (typeof json === "object" && "sym" in json && isSymbol(json.sym)) out.add(json.sym);
  return out;
}

function isSymbol(name: string): boolean {
  return !name.startsWith("'") && !(name in CONSTANTS) && !/Infinity$|^NaN$|^Complex/.test(name);
}

/** Number of nodes, to refuse expressions too large to compare within the deadline. */
export function nodeCount(json: MathJson): number {
  if (!Array.isArray(json)) return 1;
  let n = 1;
  for (const arg of json) n += nodeCount(arg);
  return n;
}

/** The exact value of a MathJSON number literal, or `undefined` for non-numbers and non-finite values. */
export function literalRational(json: MathJson): Rational | undefined {
  if (typeof json === "number") return Number.isFinite(json) ? decimalRational(String(json)) : undefined;
  if (typeof json === "object" && !Array.isArray(json) && "num" in json) return decimalRational(json.num);
  if (Array.isArray(json) && json[0] === "Rational" && json.length === 3) {
    const [p, q] = [literalRational(json[1]!), literalRational(json[2]!)];
    return p && q && q.num !== 0n ? rational(p.num * q.den, p.den * q.num) : undefined;
  }
  return undefined;
}

// "1.5", "-2", "1e5", "1.2e-3", "0.(3)" (compute-engine's repeating-decimal notation).
function decimalRational(text: string): Rational | undefined {
  const repeating = /^([-+]?\d*)\.(\d*)\((\d+)\)$/.exec(text);
  if (repeating) {
    const [, whole, fixed = "", rep = ""] = repeating;
    const a = parseDecimal(`${whole}.${fixed}`);
    if (!a) return undefined;
    const sign = text.startsWith("-") ? -1n : 1n;
    const tail = rational(sign * BigInt(rep), (10n ** BigInt(rep.length) - 1n) * 10n ** BigInt(fixed.length));
    return tail && add(a, tail);
  }
  const match = /^([-+]?[\d.]+)(?:e([-+]?\d+))?$/i.exec(text);
  if (!match) return undefined;
  const mantissa = parseDecimal(match[1]!);
  const exp = Number(match[2] ?? 0);
  if (!mantissa || Math.abs(exp) > 400) return undefined;
  const scale = 10n ** BigInt(Math.abs(exp));
  return exp >= 0 ? rational(mantissa.num * scale, mantissa.den) : rational(mantissa.num, mantissa.den * scale);
}

function add(a: Rational, b: Rational): Rational {
  return rational(a.num * b.den + b.num * a.den, a.den * b.den)!;
}

function mul(a: Rational, b: Rational): Rational {
  return rational(a.num * b.num, a.den * b.den)!;
}

function tooBig(r: Rational): boolean {
  const bits = (v: bigint) => BigInt((v < 0n ? -v : v).toString(2).length);
  return bits(r.num) > MAX_BITS || bits(r.den) > MAX_BITS;
}

/**
 * Exact value of a rational function at rational points; `undefined` when it is not one (a radical, π, a log) or
 * divides by zero at the point. Throws {@link UnsupportedExpression} for unknown heads.
 */
export function evalExact(json: MathJson, env: Map<string, Rational>): Rational | undefined {
  const lit = literalRational(json);
  if (lit) return lit;
  if (typeof json === "string") return env.get(json);
  if (!Array.isArray(json)) return typeof json === "object" && "sym" in json ? env.get(json.sym) : undefined;
  const [head, ...args] = json;
  const values: Rational[] = [];
  for (const arg of args) {
    const v = evalExact(arg, env);
    if (v === undefined) return undefined;
    values.push(v);
  }
  const result = exactOp(head as string, values);
  return result && tooBig(result) ? undefined : result;
}

function exactOp(head: string, v: Rational[]): Rational | undefined {
  const [a, b] = v;
  switch (head) {
    case "Add":
      return v.reduce(add, { num: 0n, den: 1n });
    case "Multiply":
      return v.reduce(mul, { num: 1n, den: 1n });
    case "Negate":
      return a && { num: -a.num, den: a.den };
    case "Subtract":
      return a && b && add(a, { num: -b.num, den: b.den });
    case "Divide":
      return a && b && rational(a.num * b.den, a.den * b.num);
    case "Square":
      return a && mul(a, a);
    case "Power":
      return a && b && exactPower(a, b);
    case "Sqrt":
      return a && exactRoot(a, 2n);
    case "Abs":
      return a && { num: a.num < 0n ? -a.num : a.num, den: a.den };
    default:
      return undefined;
  }
}

function exactPower(base: Rational, exp: Rational): Rational | undefined {
  if (exp.den !== 1n) return exp.den === 2n ? exactRoot(exactPower(base, { num: exp.num, den: 1n }), 2n) : undefined;
  const n = exp.num < 0n ? -exp.num : exp.num;
  const bits = BigInt(Math.max(base.num.toString(2).length, base.den.toString(2).length));
  if (bits * n > MAX_BITS) return undefined;
  const p = { num: base.num ** n, den: base.den ** n };
  return exp.num < 0n ? rational(p.den, p.num) : rational(p.num, p.den);
}

function exactRoot(value: Rational | undefined, k: bigint): Rational | undefined {
  if (value === undefined || value.num < 0n) return undefined;
  const [n, d] = [isqrt(value.num), isqrt(value.den)];
  return k === 2n && n * n === value.num && d * d === value.den ? { num: n, den: d } : undefined;
}

function isqrt(v: bigint): bigint {
  if (v < 2n) return v;
  let x = BigInt(Math.floor(Math.sqrt(Number(v))));
  while (x * x > v) x--;
  while ((x + 1n) * (x + 1n) <= v) x++;
  return x;
}

/** Floating-point value at a point (NaN outside the real domain). Throws {@link UnsupportedExpression}. */
export function evalFloat(json: MathJson, env: Map<string, number>): number {
  if (typeof json === "number") return json;
  if (typeof json === "string") return symbolValue(json, env);
  if (!Array.isArray(json)) {
    if ("num" in json) {
      const exact = decimalRational(json.num);
      return exact ? Number(exact.num) / Number(exact.den) : Number(json.num);
    }
    if ("sym" in json) return symbolValue(json.sym, env);
    throw new UnsupportedExpression("a string inside an expression");
  }
  const [head, ...args] = json;
  if (typeof head !== "string") throw new UnsupportedExpression("a non-symbol head");
  return floatOp(head, args.map((arg) => evalFloat(arg, env)));
}

function symbolValue(name: string, env: Map<string, number>): number {
  if (name in CONSTANTS) return CONSTANTS[name]!;
  if (name === "PositiveInfinity") return Infinity;
  if (name === "NegativeInfinity") return -Infinity;
  if (name === "NaN" || name === "ComplexInfinity") return NaN;
  const v = env.get(name);
  if (v === undefined) throw new UnsupportedExpression(`unbound symbol ${name}`);
  return v;
}

const UNARY: Record<string, (x: number) => number> = {
  Negate: (x) => -x,
  Sqrt: Math.sqrt,
  Square: (x) => x * x,
  Abs: Math.abs,
  Exp: Math.exp,
  Ln: Math.log,
  Lb: Math.log2,
  Lg: Math.log10,
  Sin: Math.sin,
  Cos: Math.cos,
  Tan: Math.tan,
  Sec: (x) => 1 / Math.cos(x),
  Csc: (x) => 1 / Math.sin(x),
  Cot: (x) => 1 / Math.tan(x),
  Arcsin: Math.asin,
  Arccos: Math.acos,
  Arctan: Math.atan,
  Sinh: Math.sinh,
  Cosh: Math.cosh,
  Tanh: Math.tanh,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Factorial: factorial,
};

function floatOp(head: string, v: number[]): number {
  const [a = NaN, b = NaN] = v;
  const unary = UNARY[head];
  if (unary && v.length === 1) return unary(a);
  switch (head) {
    case "Add":
      return v.reduce((s, x) => s + x, 0);
    case "Multiply":
      return v.reduce((s, x) => s * x, 1);
    case "Subtract":
      return a - b;
    case "Divide":
    case "Rational":
      return a / b;
    case "Power":
      return realPower(a, b);
    case "Root":
      return realPower(a, 1 / b, b);
    case "Log":
      return v.length === 1 ? Math.log10(a) : Math.log(a) / Math.log(b);
    case "Binomial":
      return factorial(a) / (factorial(b) * factorial(a - b));
    case "Arctan2":
      return Math.atan2(a, b);
  }
  throw new UnsupportedExpression(`cannot evaluate ${head}`);
}

// Odd roots of negatives are real (∛-8 = -2); Math.pow gives NaN for them.
function realPower(base: number, exp: number, rootIndex?: number): number {
  if (base < 0 && rootIndex !== undefined && Number.isInteger(rootIndex) && rootIndex % 2 === 1) {
    return -Math.pow(-base, exp);
  }
  return Math.pow(base, exp);
}

function factorial(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_FACTORIAL) return NaN;
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
}
