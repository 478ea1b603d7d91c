/**
 * Parses a cleaned final answer into a typed answer: a scalar expression (numbers included), an assignment
 * (`x = 5`, `2 = x`), a relation (equation or inequality chain), an interval or union of intervals, a set, tuple or
 * list, a matrix, or text (`\text{Monday}`, a choice `(A)`). The bracket structure is read here; scalars go to the
 * compute engine. Anything that does not parse is `undefined`, never a number guessed out of it.
 */

import { cleanAnswer } from "./clean.ts";
import { freeSymbols, type MathJson } from "./evaluate.ts";
import { isParseError, parseLatex } from "./latex.ts";
import { splitTopLevel, wrapped } from "./split.ts";

/** A scalar expression; `percent` marks a trailing `%` (the value is the expression, not a hundredth of it). */
export interface Scalar {
  kind: "expr";
  json: MathJson;
  percent: boolean;
}

/** One interval; endpoints may be ±∞. */
export interface Interval {
  lo: Scalar;
  hi: Scalar;
  loOpen: boolean;
  hiOpen: boolean;
}

/** Relation operators, normalised. */
export type RelOp = "=" | "!=" | "<" | "<=" | ">" | ">=";

/** A typed final answer. */
export type Answer =
  | Scalar
  | { kind: "assign"; name: string; value: Answer }
  | { kind: "relation"; ops: RelOp[]; sides: Scalar[] }
  | { kind: "interval"; parts: Interval[] }
  | { kind: "set" | "list"; items: Answer[] }
  | { kind: "tuple"; items: Answer[]; openPair: boolean }
  | { kind: "matrix"; rows: Answer[][] }
  | { kind: "text"; text: string };

const MAX_ITEMS = 64;
const CACHE_SIZE = 4096;
/** Longest final answer parsed. */
export const MAX_ANSWER_CHARS = 1000;
const cache = new Map<string, Answer | undefined>();
const MAX_DEPTH = 6;
const RELATION = /\\(?:leqslant|geqslant|leq|geq|neq|le|ge|ne|lt|gt)(?![A-Za-z])|<=|>=|!=|=|<|>/g;
const REL_OPS: Record<string, RelOp> = {
  "=": "=",
  "!=": "!=",
  "<": "<",
  "<=": "<=",
  ">": ">",
  ">=": ">=",
  "\\lt": "<",
  "\\gt": ">",
  "\\le": "<=",
  "\\leq": "<=",
  "\\leqslant": "<=",
  "\\ge": ">=",
  "\\geq": ">=",
  "\\geqslant": ">=",
  "\\ne": "!=",
  "\\neq": "!=",
};
const TEXT_WORDS = /^(?:yes|no|true|false|none|odd|even|neither|both)$/i;

/** Parses raw answer text (it is cleaned first); `undefined` when it is empty or not readable math. */
export function parseAnswer(raw: string): Answer | undefined {
  // Longer than any final answer, and more than the engine could parse anyway (see latex.ts).
  if (raw.length > MAX_ANSWER_CHARS) return undefined;
  if (cache.has(raw)) return cache.get(raw);
  const { text, percent } = cleanAnswer(raw);
  const answer = text === "" ? undefined : parseClean(text, percent, 0);
  // Answers are never mutated, so a GRPO group's shared reference is parsed once.
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(raw, answer);
  return answer;
}

function parseClean(text: string, percent: boolean, depth: number): Answer | undefined {
  if (depth > MAX_DEPTH || text === "") return undefined;
  const choice = /^\(?([A-Ea-e])\)(?:\s|$)|^([A-E])$/.exec(text);
  if (choice) return { kind: "text", text: `(${(choice[1] ?? choice[2])!.toUpperCase()})` };
  if (isText(text)) return { kind: "text", text: normalizeText(text) };
  const member = /^[A-Za-z]\s*\\in\s*(.+)$/.exec(text);
  if (member) return parseClean(member[1]!, percent, depth + 1);
  const pm = /\\pm|\\mp/.exec(text);
  if (pm) return parsePlusMinus(text, pm.index, pm[0].length, depth);
  return parseMatrix(text, depth) ?? parseUnion(text, depth) ?? parseBracketed(text, depth) ??
    parseList(text, depth) ?? parseRelation(text, percent, depth) ?? parseScalar(text, percent);
}

function isText(text: string): boolean {
  if (/[\d\\^_=<>]/.test(text)) return false;
  return TEXT_WORDS.test(text.trim()) || /[A-Za-z]{3,}/.test(text);
}

function normalizeText(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9()]+/g, " ").trim();
}

// `a \pm b` is the set {a + b, a - b}; `x = 2 \pm \sqrt{3}` the same set of values.
function parsePlusMinus(text: string, at: number, len: number, depth: number): Answer | undefined {
  const head = text.slice(0, at);
  const tail = text.slice(at + len);
  const assign = /^\s*[A-Za-z]\s*=\s*/.exec(head);
  const base = assign ? head.slice(assign[0].length) : head;
  const items: Answer[] = [];
  for (const sign of ["+", "-"]) {
    const item = parseClean(`${base}${sign}${tail}`, false, depth + 1);
    if (item === undefined) return undefined;
    items.push(item);
  }
  return { kind: "set", items };
}

function parseMatrix(text: string, depth: number): Answer | undefined {
  const m = /^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^}]*\})?([\s\S]*)\\end\{\1\}$/.exec(text);
  if (!m) return undefined;
  const rows: Answer[][] = [];
  for (const line of m[2]!.split(/\\\\/).map((r) => r.trim()).filter((r) => r !== "")) {
    const row: Answer[] = [];
    for (const cell of line.split("&")) {
      const item = parseClean(cell.trim(), false, depth + 1);
      if (item === undefined) return undefined;
      row.push(item);
    }
    rows.push(row);
  }
  const width = rows[0]?.length ?? 0;
  return width > 0 && rows.every((r) => r.length === width) ? { kind: "matrix", rows } : undefined;
}

function parseUnion(text: string, depth: number): Answer | undefined {
  const parts = splitTopLevel(text, /\\cup(?![A-Za-z])|(?<=[)\]])\s*U\s*(?=[([])/g);
  if (parts.length < 2) return undefined;
  const intervals: Interval[] = [];
  for (const part of parts) {
    const item = parseClean(part.trim(), false, depth + 1);
    if (item?.kind === "interval") intervals.push(...item.parts);
    else if (item?.kind === "tuple" && item.openPair) intervals.push(pairInterval(item.items)!);
    else return undefined;
  }
  return { kind: "interval", parts: intervals };
}

/** The open interval `(a, b)` a two-element tuple may also mean. */
export function pairInterval(items: Answer[]): Interval | undefined {
  const [lo, hi] = items;
  if (items.length !== 2 || lo?.kind !== "expr" || hi?.kind !== "expr") return undefined;
  return { lo, hi, loOpen: true, hiOpen: true };
}

function parseBracketed(text: string, depth: number): Answer | undefined {
  const w = wrapped(text);
  if (w === undefined) return undefined;
  const items = parseItems(splitTopLevel(w.inner, /,|;/g), depth);
  if (items === undefined) return undefined;
  if (w.open === "\\{") return { kind: "set", items: w.inner.trim() === "" ? [] : items };
  if (items.length < 2 && w.inner.trim() !== "") return undefined; // (x+1): just grouping, a scalar
  const infinite = items.some((i) => i.kind === "expr" && isInfinity(i.json));
  const round = w.open === "(" && w.close === ")";
  if (items.length === 2 && items.every((i) => i.kind === "expr") && (!round || infinite)) {
    const [lo, hi] = items as Scalar[];
    return { kind: "interval", parts: [{ lo: lo!, hi: hi!, loOpen: w.open === "(", hiOpen: w.close === ")" }] };
  }
  return { kind: "tuple", items, openPair: items.length === 2 && w.open === "(" };
}

function isInfinity(json: MathJson): boolean {
  return json === "PositiveInfinity" || json === "NegativeInfinity" ||
    (Array.isArray(json) && json[0] === "Negate" && json[1] === "PositiveInfinity");
}

function parseList(text: string, depth: number): Answer | undefined {
  const parts = splitTopLevel(text, /,|;|\s(?:and|or)\s/g);
  if (parts.length < 2) return undefined;
  const items = parseItems(parts, depth);
  return items && { kind: "list", items };
}

function parseItems(parts: string[], depth: number): Answer[] | undefined {
  if (parts.length > MAX_ITEMS) return undefined;
  const items: Answer[] = [];
  for (const part of parts) {
    const trimmed = part.trim();
    if (trimmed === "") continue;
    const item = parseClean(trimmed, false, depth + 1);
    if (item === undefined) return undefined;
    items.push(item);
  }
  return items;
}

function parseRelation(text: string, percent: boolean, depth: number): Answer | undefined {
  const pieces = splitTopLevel(text, RELATION, true);
  if (pieces.length < 3) return undefined;
  const ops: RelOp[] = [];
  const texts: string[] = [];
  pieces.forEach((p, i) => i % 2 === 1 ? ops.push(REL_OPS[p.trim()]!) : texts.push(p.trim()));
  if (texts.some((t) => t === "")) return undefined;
  if (ops.every((op) => op === "=")) {
    const first = texts[0]!;
    const last = texts.at(-1)!;
    // x = 5 (or x = y = 5): an assignment; 2 = x: the same, written backwards; 3 + 4 = 7: a computation whose
    // value is the last side.
    if (isName(first)) {
      const value = parseClean(last, percent, depth + 1);
      return value && { kind: "assign", name: first.replace(/\s+/g, ""), value };
    }
    if (isName(last) && texts.length === 2 && isConstant(first)) {
      const value = parseClean(first, percent, depth + 1);
      return value && { kind: "assign", name: last.replace(/\s+/g, ""), value };
    }
    if (texts.slice(0, -1).every(isConstant)) return parseClean(last, percent, depth + 1);
  }
  const sides: Scalar[] = [];
  for (const t of texts) {
    const side = parseScalar(t, false);
    if (side === undefined) return undefined;
    sides.push(side);
  }
  return { kind: "relation", ops, sides };
}

// A variable or function name on the left of an assignment: x, y_1, a_{n}, f(x), \theta.
function isName(text: string): boolean {
  return /^(?:[A-Za-z](?:_\{?\w+\}?)?|\\[a-zA-Z]+|[A-Za-z]\s*\(\s*[A-Za-z]\s*\))$/.test(text.trim()) &&
    !/^\\(?:pi|infty)$/.test(text.trim());
}

function isConstant(text: string): boolean {
  const json = parseLatex(text);
  return !isParseError(json) && freeSymbols(json).size === 0;
}

/** A scalar: a plain number without the engine, anything else through it. */
export function parseScalar(text: string, percent: boolean): Scalar | undefined {
  const plain = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/.test(text);
  if (plain) return { kind: "expr", json: { num: text.replace(/^\+/, "") }, percent };
  const mixed = /^(-?)(\d+)\s+(\d+)\s*\/\s*(\d+)$/.exec(text); // 3 1/2
  // LaTeX ignores spaces, so the engine reads "2 3" as 23; a reader would not (thin-space groups are joined already).
  if (!mixed && /(?<![_^\d])\d+\s+\d/.test(text)) return undefined;
  const latex = mixed ? `${mixed[1]}(${mixed[2]}+\\frac{${mixed[3]}}{${mixed[4]}})` : plainToLatex(text);
  const json = parseLatex(latex);
  if (isParseError(json)) return undefined;
  if (typeof json === "string" && json.startsWith("'")) return undefined; // a string, not math
  return { kind: "expr", json, percent };
}

// Plain-text math that models write outside LaTeX: sqrt(2), pi, 2*x, x**2.
function plainToLatex(text: string): string {
  return text.replace(/\*\*/g, "^").replace(/(?<!\\)\bsqrt\b/g, "\\sqrt").replace(/(?<![\\A-Za-z])pi\b/g, "\\pi ")
    .replace(/\*/g, "\\cdot ");
}
