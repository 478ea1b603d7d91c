/**
 * Row scatter-adds applied in JS after a gradient graph has run. A tied embedding's gradient is the dense LM-head
 * gradient plus the embedding rows scattered back (ScatterND with reduction "add"). Inside the graph that scatter
 * needs the dense [V, D] gradient as a temporary (545 MB for the Qwen vocabulary) next to the output buffer, kept
 * alive from the start of the backward pass (where the head gradient is computed) to its end, and onnxruntime copies
 * it and scatters on one thread. Instead the graph writes the dense part straight into the trainer's gradient buffer
 * and returns the few rows (B*T of them); adding them here touches only those rows.
 */
import type { Sym } from "../graph/mod.ts";

/** A gradient split into its dense part and the rows scattered into it. */
export interface RowScatter {
  dense: Sym;
  /** int64 [N, 1] row indices. */
  indices: Sym;
  /** [N, ...row shape] rows to add. */
  updates: Sym;
}

/** The dense part and rows of a gradient that ends in a row scatter-add (ScatterND on axis 0), or null. */
export function splitRowScatter(grad: Sym): RowScatter | null {
  const node = grad.producer;
  const reduction = (node?.attrs.reduction as { string: string } | undefined)?.string;
  if (node?.op !== "ScatterND" || reduction !== "add") return null;
  const [dense, indices, updates] = node.inputs as [Sym, Sym, Sym];
  if (indices.shape.at(-1) !== 1 || dense.dtype !== "float32") return null;
  return { dense, indices, updates };
}

/**
 * Adds `updates` (N rows of `rowSize`) into `target` at rows `indices`, in order, in float32 like ScatterND. With
 * `sumsq` it returns the change of the sum of squares of `target` (for the global gradient norm), else 0.
 */
export function addRows(
  target: Float32Array,
  indices: ArrayLike<bigint | number>,
  updates: Float32Array,
  rowSize: number,
  sumsq = false,
): number {
  const rows = target.length / rowSize;
  if (updates.length !== indices.length * rowSize) {
    throw new RangeError(`addRows: ${updates.length} update values for ${indices.length} rows of ${rowSize}`);
  }
  const touched = new Set<number>();
  for (let r = 0; r < indices.length; r++) {
    const row = Number(indices[r]);
    const at = row < 0 ? row + rows : row; // ScatterND accepts negative indices
    if (!(at >= 0 && at < rows)) throw new RangeError(`addRows: row ${row} is out of range [0, ${rows})`);
    touched.add(at);
  }
  let before = 0;
  if (sumsq) { for (const at of touched) before += squares(target, at * rowSize, rowSize); }
  for (let r = 0; r < indices.length; r++) {
    const row = Number(indices[r]);
    const o = (row < 0 ? row + rows : row) * rowSize;
    const u = r * rowSize;
    for (let j = 0; j < rowSize; j++) target[o + j] = target[o + j]! + updates[u + j]!;
  }
  if (!sumsq) return 0;
  let after = 0;
  for (const at of touched) after += squares(target, at * rowSize, rowSize);
  return after - before;
}

function squares(x: Float32Array, from: number, n: number): number {
  let s = 0;
  for (let i = from; i < from + n; i++) s += x[i]! * x[i]!;
  return s;
}
