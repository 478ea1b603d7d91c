/**
 * Bracket-aware splitting. Any of `( [ { \{` opens and any of `) ] } \}` closes, regardless of type, because
 * half-open intervals (`[0, 1)`) pair different brackets.
 */

/** Bracket depth before each character of `text` (a `\{`/`\}` counts once, at its backslash). */
function depths(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const escaped = ch === "\\" && (text[i + 1] === "{" || text[i + 1] === "}");
    const c = escaped ? text[i + 1]! : ch;
    if (c === ")" || c === "]" || c === "}") depth = Math.max(0, depth - 1);
    out.push(depth);
    if (escaped) out.push(depth), i++;
    if (c === "(" || c === "[" || c === "{") depth++;
  }
  return out;
}

/**
 * Splits `text` at matches of `separator` (a global regex) outside brackets; with `keep`, the separators are
 * returned too, at odd indices.
 */
export function splitTopLevel(text: string, separator: RegExp, keep = false): string[] {
  const depth = depths(text);
  const out: string[] = [];
  let at = 0;
  separator.lastIndex = 0;
  for (const m of text.matchAll(separator)) {
    if (depth[m.index] !== 0 || m[0] === "") continue;
    out.push(text.slice(at, m.index));
    if (keep) out.push(m[0]);
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

/** `text` as one bracketed group: its opening and closing bracket and what is between; `undefined` otherwise. */
export function wrapped(text: string): { open: string; close: string; inner: string } | undefined {
  const t = text.trim();
  const open = t.startsWith("\\{") ? "\\{" : t[0];
  const close = t.endsWith("\\}") ? "\\}" : t.at(-1);
  if (open === undefined || close === undefined || !["(", "[", "\\{"].includes(open)) return undefined;
  if (![")", "]", "\\}"].includes(close) || (open === "\\{") !== (close === "\\}")) return undefined;
  const depth = depths(t);
  // The opening bracket must be closed only by the last one: `(1)(2)` is not one group.
  for (let i = open.length; i < t.length - close.length; i++) if (depth[i] === 0) return undefined;
  return { open, close, inner: t.slice(open.length, t.length - close.length) };
}
