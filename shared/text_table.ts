/** Aligned plain-text tables, for CLI views (`coop status`, `coop runs`) and benchmark reports alike. */

/** Column alignment for {@link formatTable}. */
export type Align = "left" | "right";

/** Options for {@link formatTable}. */
export interface TableOptions {
  /** Per-column alignment; default left. Numbers read best right-aligned. */
  align?: Align[];
  /** Spaces between columns; default 2. */
  gap?: number;
}

/**
 * Formats rows as an aligned text table with a header line and a dashed rule. The last column is not padded, so a
 * long free-text column (a pending reason) does not push trailing spaces onto every line.
 */
export function formatTable(header: string[], rows: string[][], options: TableOptions = {}): string {
  const gap = " ".repeat(options.gap ?? 2);
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    cells.map((cell, i) => {
      if (i === header.length - 1 && options.align?.[i] !== "right") return cell;
      const pad = " ".repeat(widths[i]! - width(cell));
      return options.align?.[i] === "right" ? pad + cell : cell + pad;
    }).join(gap).trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join(gap);
  return [line(header), rule, ...rows.map((r) => line(header.map((_, i) => r[i] ?? "")))].join("\n");
}

// Counts code points, so "µs" or "≥" do not skew alignment the way UTF-16 length would.
function width(text: string): number {
  return [...text].length;
}
