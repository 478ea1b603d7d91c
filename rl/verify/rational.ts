/**
 * Exact rationals over bigint, so the verifier compares 0.1 + 0.2-style answers, 3/4 against 0.75 and
 * 1,000,000,000,000,001 against itself without floating-point error.
 */

/** A reduced fraction with a positive denominator. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** Builds a reduced rational; `undefined` when the denominator is zero. */
export function rational(num: bigint, den: bigint): Rational | undefined {
  if (den === 0n) return undefined;
  if (den < 0n) [num, den] = [-num, -den];
  const g = gcd(num, den);
  return g > 1n ? { num: num / g, den: den / g } : { num, den };
}

/** Parses a plain decimal literal such as `-12`, `3.50`, `.5` or `+7`; `undefined` otherwise. */
export function parseDecimal(text: string): Rational | undefined {
  const match = /^([-+]?)(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match) return undefined;
  const [, sign, whole = "", frac = ""] = match;
  if (whole === "" && frac === "") return undefined;
  const digits = BigInt((whole || "0") + frac);
  return rational(sign === "-" ? -digits : digits, 10n ** BigInt(frac.length));
}

/** a / b, or `undefined` when b is zero. */
export function divide(a: Rational, b: Rational): Rational | undefined {
  return rational(a.num * b.den, a.den * b.num);
}

/** Exact equality of two reduced rationals. */
export function equals(a: Rational, b: Rational): boolean {
  return a.num === b.num && a.den === b.den;
}

/** Canonical text: an integer, a terminating decimal, or `p/q`. */
export function formatRational(value: Rational): string {
  if (value.den === 1n) return value.num.toString();
  let den = value.den;
  let twos = 0;
  let fives = 0;
  while (den % 2n === 0n) [den, twos] = [den / 2n, twos + 1];
  while (den % 5n === 0n) [den, fives] = [den / 5n, fives + 1];
  if (den !== 1n) return `${value.num}/${value.den}`;
  const places = Math.max(twos, fives);
  const scaled = (value.num * 10n ** BigInt(places)) / value.den;
  const negative = scaled < 0n;
  const digits = (negative ? -scaled : scaled).toString().padStart(places + 1, "0");
  return `${negative ? "-" : ""}${digits.slice(0, -places)}.${digits.slice(-places)}`;
}

/** The nearest float, for metrics and logging. */
export function toNumber(value: Rational): number {
  return Number(value.num) / Number(value.den);
}
