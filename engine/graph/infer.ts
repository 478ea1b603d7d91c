/**
 * Operand checks and shape inference shared by the primitive ops in `ops.ts`: a failure names the op and the
 * operands' dtypes and shapes, so a mismatch is reported where the graph is built rather than by onnxruntime.
 */
import type { DType } from "../../shared/mod.ts";
import { fmtShape, Graph, GraphBuildError, GraphShapeError, type Shape, Sym, tensorOf } from "./graph.ts";

/** A symbolic tensor or a plain number (lifted to a scalar constant of the other operand's dtype). */
export type Operand = Sym | number;

/** Throws a GraphShapeError naming `op`, the operands' dtypes and shapes, and `why`. */
export function fail(op: string, operands: readonly Sym[], why: string): never {
  const shapes = operands.map((s) => `${s.dtype}${fmtShape(s.shape)}`).join(" and ");
  throw new GraphShapeError(`Cannot apply "${op}" to ${shapes}: ${why}`);
}

/** The graph of the first Sym among `operands` (plain numbers alone have none). */
export function graphOf(op: string, operands: readonly Operand[]): Graph {
  const sym = operands.find((o): o is Sym => o instanceof Sym);
  if (sym === undefined) throw new GraphBuildError(`Cannot apply "${op}" to plain numbers only: pass a Sym`);
  return sym.graph;
}

/** Lifts plain numbers to scalar constants of the first Sym's dtype. */
export function lift(op: string, operands: readonly Operand[]): Sym[] {
  const g = graphOf(op, operands);
  const like = operands.find((o): o is Sym => o instanceof Sym)!;
  return operands.map((o) => (o instanceof Sym ? o : g.scalar(o, like.dtype)));
}

/** Normalizes a possibly negative axis for a tensor of `rank`. */
export function normAxis(op: string, x: Sym, axis: number, rank = x.rank): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) fail(op, [x], `axis ${axis} is out of range`);
  return a;
}

/** Numpy broadcasting of shapes; undefined when incompatible. */
export function broadcastShapes(...shapes: Shape[]): number[] | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (dim !== 1 && dim !== d) return undefined;
      dim = d;
    }
    out.push(dim);
  }
  return out;
}

/** A broadcasting elementwise node (same dtypes unless `sameDtype` is false). */
export function elementwise(op: string, operands: readonly Operand[], outDtype?: DType, sameDtype = true): Sym {
  const syms = lift(op, operands);
  const dtype = syms[0]!.dtype;
  if (sameDtype && syms.some((s) => s.dtype !== dtype)) fail(op, syms, "dtypes differ");
  const shape = broadcastShapes(...syms.map((s) => s.shape));
  if (shape === undefined) fail(op, syms, "shapes do not broadcast");
  return syms[0]!.graph.node(op, syms, {}, [{ dtype: outDtype ?? dtype, shape }])[0]!;
}

/** A node of one input with the input's shape. */
export function unary(op: string, x: Sym, outDtype?: DType): Sym {
  return x.graph.node(op, [x], {}, [{ dtype: outDtype ?? x.dtype, shape: x.shape }])[0]!;
}

/** An int64 vector constant (shapes, axes, pads as ONNX wants them: inputs, not attributes). */
export function int64s(g: Graph, values: readonly number[]): Sym {
  return g.constant(tensorOf("int64", [values.length], values));
}
