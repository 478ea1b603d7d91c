/**
 * Equality of typed answers. Kinds must agree (a pair is never equal to a number, an equation never to its right
 * side unless it is an assignment `x = 5`); order rules follow the kind: sets, `\pm` pairs and bare lists
 * (`6, 8`, `6 and 8`) are unordered, tuples are ordered, an open pair `(a, b)` may also be the open interval.
 */

import { type Budget, checkBudget } from "./budget.ts";
import { expressionsEqual, proportional, type Tolerance } from "./equiv.ts";
import type { MathJson } from "./evaluate.ts";
import { type Answer, type Interval, pairInterval, parseScalar, type RelOp, type Scalar } from "./parse.ts";

/** Settings of one comparison. */
export interface CompareContext extends Tolerance {
  budget: Budget;
}

const FLIP: Record<RelOp, RelOp> = { "=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<=" };
const MAX_MATCHING = 9;

/** Whether two answers are equal. */
export function answersEqual(a: Answer, b: Answer, ctx: CompareContext): boolean {
  checkBudget(ctx.budget);
  if (a.kind === "assign" && b.kind === "assign") {
    return a.name === b.name && answersEqual(a.value, b.value, ctx);
  }
  // z = x + y + 2 against x + y - z + 2 = 0: an assignment is also an equation.
  if (a.kind === "assign" && b.kind === "relation") return relationsEqual(asEquation(a), b, ctx);
  if (b.kind === "assign" && a.kind === "relation") return relationsEqual(a, asEquation(b), ctx);
  if (a.kind === "assign") return answersEqual(a.value, b, ctx);
  if (b.kind === "assign") return answersEqual(a, b.value, ctx);
  // A one-element collection is its element: {5} = 5.
  if ((a.kind === "set" || a.kind === "list") && a.items.length === 1 && b.kind !== a.kind) {
    return answersEqual(a.items[0]!, b, ctx);
  }
  if ((b.kind === "set" || b.kind === "list") && b.items.length === 1 && a.kind !== b.kind) {
    return answersEqual(a, b.items[0]!, ctx);
  }
  switch (a.kind) {
    case "expr":
      return b.kind === "expr" && scalarsEqual(a, b, ctx);
    case "text":
      return b.kind === "text" && a.text === b.text;
    case "relation":
      if (b.kind === "relation") return relationsEqual(a, b, ctx);
      return b.kind === "interval" && intervalsOf(a) !== undefined && answersEqual(intervalsOf(a)!, b, ctx);
    case "interval":
      return intervalEqual(a, b, ctx);
    case "matrix":
      return b.kind === "matrix" && a.rows.length === b.rows.length &&
        a.rows.every((row, i) => row.length === b.rows[i]!.length && sequenceEqual(row, b.rows[i]!, ctx));
    case "set":
    case "list":
    case "tuple":
      return collectionEqual(a, b, ctx);
  }
}

function asEquation(a: { name: string; value: Answer }): { ops: RelOp[]; sides: Scalar[] } {
  const name = parseScalar(a.name, false);
  if (name === undefined || a.value.kind !== "expr") return { ops: [], sides: [] };
  return { ops: ["="], sides: [name, a.value] };
}

function scalarsEqual(a: Scalar, b: Scalar, ctx: CompareContext): boolean {
  if (expressionsEqual(a.json, b.json, ctx, ctx.budget)) return a.percent === b.percent || isNumber(a, b);
  if (a.percent === b.percent) return false;
  // 25% against 0.25: the percent side's value over 100.
  const [pct, plain] = a.percent ? [a, b] : [b, a];
  return expressionsEqual(["Divide", pct.json, 100], plain.json, ctx, ctx.budget);
}

// 50% and 50 are the same answer (GSM8K writes the number without the sign); only for plain numbers.
function isNumber(a: Scalar, b: Scalar): boolean {
  const num = (j: MathJson) => typeof j === "number" || (typeof j === "object" && !Array.isArray(j) && "num" in j);
  return num(a.json) && num(b.json);
}

function relationsEqual(
  a: { ops: RelOp[]; sides: Scalar[] },
  b: { ops: RelOp[]; sides: Scalar[] },
  ctx: CompareContext,
): boolean {
  if (a.ops.length !== b.ops.length) return false;
  const same = a.ops.every((op, i) => op === b.ops[i]);
  const flipped = a.ops.every((op, i) => FLIP[op] === b.ops[a.ops.length - 1 - i]);
  const reversed = { ops: [...b.ops].reverse().map((op) => FLIP[op]), sides: [...b.sides].reverse() };
  return (same && chainEqual(a, b, ctx)) || (flipped && chainEqual(a, reversed, ctx));
}

// Each link l op r is compared as l - r: equations up to any non-zero factor (2x = 4 is x = 2), inequalities up to a
// positive one.
function chainEqual(a: { ops: RelOp[]; sides: Scalar[] }, b: { ops: RelOp[]; sides: Scalar[] }, ctx: CompareContext) {
  return a.ops.every((op, i) => {
    const da: MathJson = ["Subtract", a.sides[i]!.json, a.sides[i + 1]!.json];
    const db: MathJson = ["Subtract", b.sides[i]!.json, b.sides[i + 1]!.json];
    if (expressionsEqual(da, db, ctx, ctx.budget)) return true;
    return proportional(da, db, op !== "=" && op !== "!=", ctx, ctx.budget);
  });
}

// x > 3 as (3, ∞), 1 <= x < 2 as [1, 2): so an inequality answer matches an interval one.
function intervalsOf(r: { ops: RelOp[]; sides: Scalar[] }): Answer | undefined {
  const isVar = (s: Scalar) => typeof s.json === "string" && /^[A-Za-z]\w*$/.test(s.json);
  const inf = (sign: string): Scalar => ({
    kind: "expr",
    json: sign === "+" ? "PositiveInfinity" : "NegativeInfinity",
    percent: false,
  });
  const [l, m, rr] = r.sides;
  if (r.ops.length === 1 && l && m) {
    const [op, bound] = isVar(l) ? [r.ops[0]!, m] : isVar(m) ? [FLIP[r.ops[0]!], l] : [undefined, l];
    if (op === "<" || op === "<=") return single({ lo: inf("-"), hi: bound, loOpen: true, hiOpen: op === "<" });
    if (op === ">" || op === ">=") return single({ lo: bound, hi: inf("+"), loOpen: op === ">", hiOpen: true });
    return undefined;
  }
  const [o1, o2] = r.ops;
  if (r.ops.length === 2 && l && m && rr && isVar(m) && (o1 === "<" || o1 === "<=") && (o2 === "<" || o2 === "<=")) {
    return single({ lo: l, hi: rr, loOpen: o1 === "<", hiOpen: o2 === "<" });
  }
  return undefined;
}

function single(part: Interval): Answer {
  return { kind: "interval", parts: [part] };
}

function intervalEqual(a: { parts: Interval[] }, b: Answer, ctx: CompareContext): boolean {
  let parts: Interval[] | undefined;
  if (b.kind === "interval") parts = b.parts;
  else if (b.kind === "tuple" && b.openPair) parts = [pairInterval(b.items)!];
  else if (b.kind === "relation") {
    const i = intervalsOf(b);
    parts = i?.kind === "interval" ? i.parts : undefined;
  }
  if (parts === undefined || parts.length !== a.parts.length) return false;
  const equal = (x: Interval, y: Interval) =>
    x.loOpen === y.loOpen && x.hiOpen === y.hiOpen && scalarsEqual(x.lo, y.lo, ctx) && scalarsEqual(x.hi, y.hi, ctx);
  return matchAll(a.parts, parts, equal, ctx);
}

function collectionEqual(a: Answer & { items: Answer[] }, b: Answer, ctx: CompareContext): boolean {
  if (b.kind === "interval") return a.kind === "tuple" && intervalEqual(b, a, ctx);
  if (b.kind !== "set" && b.kind !== "list" && b.kind !== "tuple") return false;
  if (a.items.length !== b.items.length) return false;
  // A set is never a tuple; a bare list `1, 2` may be either, taking the other side's order rule.
  if ((a.kind === "set" && b.kind === "tuple") || (a.kind === "tuple" && b.kind === "set")) return false;
  if (a.kind === "tuple" || b.kind === "tuple") return sequenceEqual(a.items, b.items, ctx);
  return matchAll(a.items, b.items, (x, y) => answersEqual(x, y, ctx), ctx);
}

function sequenceEqual(a: Answer[], b: Answer[], ctx: CompareContext): boolean {
  return a.length === b.length && a.every((x, i) => answersEqual(x, b[i]!, ctx));
}

// A perfect matching between two equal-sized multisets (backtracking for small ones, in-order pairing beyond).
function matchAll<T>(a: T[], b: T[], equal: (x: T, y: T) => boolean, ctx: CompareContext): boolean {
  if (a.length !== b.length) return false;
  if (a.length > MAX_MATCHING) return a.every((x, i) => equal(x, b[i]!));
  const used = new Array<boolean>(b.length).fill(false);
  const search = (i: number): boolean => {
    if (i === a.length) return true;
    checkBudget(ctx.budget);
    for (let j = 0; j < b.length; j++) {
      if (used[j] || !equal(a[i]!, b[j]!)) continue;
      used[j] = true;
      if (search(i + 1)) return true;
      used[j] = false;
    }
    return false;
  };
  return search(0);
}
