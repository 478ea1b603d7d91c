/**
 * Normalises the text of a final answer before parsing: math delimiters, `\dfrac`, `\left`/`\right`, Unicode
 * symbols, thousands separators (`1,000`, `1{,}000`, `15,\!000`, thin spaces), degrees, currency, percent and
 * units. What is left is LaTeX the compute engine can read, plus a `percent` flag (a trailing `%` is kept apart so
 * `50\%` can match both `50` and `0.5`).
 */

/** A cleaned answer. */
export interface CleanAnswer {
  text: string;
  percent: boolean;
}

const UNICODE: [RegExp, string][] = [
  [/[\u2212\u2012\u2013\u2014]/g, "-"],
  [/×/g, "\\times "],
  [/[·⋅]/g, "\\cdot "],
  [/÷/g, "\\div "],
  [/≤/g, "\\le "],
  [/≥/g, "\\ge "],
  [/≠/g, "\\ne "],
  [/π/g, "\\pi "],
  [/∞/g, "\\infty "],
  [/√/g, "\\sqrt"],
  [/∪/g, "\\cup "],
  [/[\u2009\u202f\u00a0\u2007]/g, "\\,"],
];

// Commands that only change how text looks.
const TEXT_COMMANDS = /\\(?:text|textbf|textit|textrm|textup|textnormal|mathrm|mathbf|mathit|mathsf|mbox|hbox)\s*\{/g;
const UNIT_WORDS = "cm|mm|km|kg|mg|ml|mL|ms|hr|hrs|min|mins|sec|secs|mph|kph|ft|yd|lb|lbs|oz|in";
// Whole-word currency and measure words that never change an answer's value.
const NOISE_WORDS =
  /(?<![\\A-Za-z])(?:dollars?|usd|euros?|cents?|units?|degrees?|square|sq|cubic|per|each|only|about|approximately|exactly)(?![A-Za-z])/gi;

const CACHE_SIZE = 4096;
const MAX_CACHED_CHARS = 512;
const cache = new Map<string, CleanAnswer>();

/** Cleans one final answer; the result may be empty. Cached: answers repeat across a group and a batch. */
export function cleanAnswer(raw: string): CleanAnswer {
  const hit = cache.get(raw);
  if (hit !== undefined) return hit;
  const result = cleanUncached(raw);
  if (raw.length > MAX_CACHED_CHARS) return result;
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(raw, result);
  return result;
}

function cleanUncached(raw: string): CleanAnswer {
  let s = raw;
  for (const [re, to] of UNICODE) s = s.replace(re, to);
  s = s.replace(/\\\$|\\euro|€|£|¥|\bRs\.?/g, " ").replace(/\\[()[\]]/g, " ").replace(/\$/g, " ");
  s = s.replace(/\\[dtc]frac/g, "\\frac").replace(/\\displaystyle|\\limits|\\!|\\mathord/g, "");
  s = s.replace(
    /\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)\s*(\.|\\[{}|]|[()[\]|])/g,
    (_, d: string) => d === "." ? "" : d,
  );
  s = s.replace(/\{,\}/g, ",").replace(/\\%/g, "%");
  // Digit groups joined by thin spaces: 15\,000 -> 15000 (a plain space stays: it may separate list items).
  s = s.replace(/(\d)(?:(?<!\\)\\[,;: ]|~)(?=\d{3}(?!\d))/g, "$1");
  s = s.replace(/(?<!\\)\\(?:[,;: ]|quad|qquad)|~/g, " ");
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree/g, "");
  s = unwrapText(s);
  // x**2 is a power; other ** are markdown bold.
  s = s.replace(/(\w)\s*\*\*\s*(?=[\w(])/g, "$1^").replace(/\*\*/g, "");
  s = s.replace(/\s+/g, " ").trim().replace(/[.;,:?]+$/, "").trim();
  let percent = false;
  const pct = /\s*(?:%|\bpercent)$/i.exec(s);
  if (pct) {
    percent = true;
    s = s.slice(0, pct.index).trim();
  }
  s = stripUnits(s);
  // Thousands separators: only well-formed groups of three, so "3,4" (a list) stays two numbers.
  s = s.replace(/(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d,])/g, (m) => m.replace(/,/g, ""));
  return { text: s.trim(), percent };
}

// `\text{...}` and friends: a wrapper around the whole answer is dropped; inside an answer the words are exposed
// (`6 \text{ and } 8`), and a single-letter unit after a number (`5\text{ m}`) is removed.
function unwrapText(input: string): string {
  let s = input;
  for (let guard = 0; guard < 20; guard++) {
    TEXT_COMMANDS.lastIndex = 0;
    const m = TEXT_COMMANDS.exec(s);
    if (m === null) break;
    const open = m.index + m[0].length - 1;
    const close = matchBrace(s, open);
    if (close < 0) break;
    const inner = s.slice(open + 1, close);
    const before = s.slice(0, m.index);
    const unit = /^\s*[A-Za-z]\s*$/.test(inner) && /[\d}]\s*$/.test(before);
    s = `${before}${unit ? " " : ` ${inner} `}${s.slice(close + 1)}`;
  }
  return s;
}

/** Index of the `}` closing the `{` at `open`, or -1. */
export function matchBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === "{") depth++;
    else if (s[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

// Trailing unit words after a number (`18 dollars`, `20 cm^2`, `3 hours`, `45mph`), never a LaTeX command or a
// single letter that may be a variable.
function stripUnits(input: string): string {
  let s = input.replace(NOISE_WORDS, " ").replace(/\s+/g, " ").trim();
  if (!/\d/.test(s)) return input.trim();
  s = s.replace(new RegExp(`(\\d)(?:${UNIT_WORDS})(?:\\^\\{?[23]\\}?)?$`), "$1");
  for (let guard = 0; guard < 8; guard++) {
    const next = s.replace(/([\d})])\s+[A-Za-z]{2,}(?:\/[A-Za-z]+)?(?:\s*\^\s*\{?[23]\}?)?\.?$/, "$1");
    if (next === s) break;
    s = next;
  }
  return s.trim();
}
