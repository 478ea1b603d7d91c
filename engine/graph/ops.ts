/**
 * Primitive ops: each function appends exactly one ONNX node (opset 18) after inferring its output shape, so a
 * shape mismatch is caught at build time with the op and the shapes in the message. Everything else (softmax
 * cross-entropy, RMSNorm, attention, ...) is a composition of these, so its gradient comes from the rules table.
 */
import type { DType } from "../../shared/mod.ts";
import { fmtShape, type Graph, GraphBuildError, ONNX_DTYPE, type Sym, tensorOf } from "./graph.ts";
import { broadcastShapes, elementwise, fail, graphOf, int64s, lift, normAxis, type Operand, unary } from "./infer.ts";

export { broadcastShapes, normAxis, type Operand } from "./infer.ts";
export { ONNX_DTYPE } from "./graph.ts";

/** a + b (broadcasting). */
export function add(a: Operand, b: Operand): Sym {
  return elementwise("Add", [a, b]);
}
/** a - b (broadcasting). */
export function sub(a: Operand, b: Operand): Sym {
  return elementwise("Sub", [a, b]);
}
/** a * b (broadcasting). */
export function mul(a: Operand, b: Operand): Sym {
  return elementwise("Mul", [a, b]);
}
/** a / b (broadcasting). */
export function div(a: Operand, b: Operand): Sym {
  return elementwise("Div", [a, b]);
}
/** a ** b (broadcasting). */
export function pow(a: Operand, b: Operand): Sym {
  return elementwise("Pow", [a, b]);
}
/** Elementwise maximum (broadcasting). */
export function max(a: Operand, b: Operand): Sym {
  return elementwise("Max", [a, b]);
}
/** Elementwise minimum (broadcasting). */
export function min(a: Operand, b: Operand): Sym {
  return elementwise("Min", [a, b]);
}
/** a == b as bool (broadcasting). */
export function equal(a: Operand, b: Operand): Sym {
  return elementwise("Equal", [a, b], "bool");
}
/** a < b as bool (broadcasting). */
export function less(a: Operand, b: Operand): Sym {
  return elementwise("Less", [a, b], "bool");
}
/** a > b as bool (broadcasting). */
export function greater(a: Operand, b: Operand): Sym {
  return elementwise("Greater", [a, b], "bool");
}
/** Logical and of bools. */
export function and(a: Sym, b: Sym): Sym {
  return elementwise("And", [a, b]);
}
/** Logical or of bools. */
export function or(a: Sym, b: Sym): Sym {
  return elementwise("Or", [a, b]);
}
/** Logical not of a bool. */
export function not(x: Sym): Sym {
  return unary("Not", x);
}
/** -x */
export function neg(x: Sym): Sym {
  return unary("Neg", x);
}
/** e^x */
export function exp(x: Sym): Sym {
  return unary("Exp", x);
}
/** Natural log. */
export function log(x: Sym): Sym {
  return unary("Log", x);
}
/** Square root. */
export function sqrt(x: Sym): Sym {
  return unary("Sqrt", x);
}
/** 1 / x */
export function reciprocal(x: Sym): Sym {
  return unary("Reciprocal", x);
}
/** tanh(x) */
export function tanh(x: Sym): Sym {
  return unary("Tanh", x);
}
/** 1 / (1 + e^-x) */
export function sigmoid(x: Sym): Sym {
  return unary("Sigmoid", x);
}
/** |x| */
export function abs(x: Sym): Sym {
  return unary("Abs", x);
}
/** -1, 0 or 1 (zero gradient). */
export function sign(x: Sym): Sym {
  return unary("Sign", x);
}
/** max(x, 0) */
export function relu(x: Sym): Sym {
  return unary("Relu", x);
}
/** sin(x) */
export function sin(x: Sym): Sym {
  return unary("Sin", x);
}
/** cos(x) */
export function cos(x: Sym): Sym {
  return unary("Cos", x);
}
/** True where x is NaN. */
export function isNaN(x: Sym): Sym {
  return unary("IsNaN", x, "bool");
}
/** True where x is +-Infinity. */
export function isInf(x: Sym): Sym {
  return unary("IsInf", x, "bool");
}
/** Passes x through (ONNX Identity). */
export function identity(x: Sym): Sym {
  return unary("Identity", x);
}

/** x with its gradient cut: the backward walker propagates nothing through it. */
export function stopGradient(x: Sym): Sym {
  const y = identity(x);
  x.graph.stopped.add(y);
  return y;
}

/** cond ? a : b (broadcasting). */
export function where(cond: Sym, a: Operand, b: Operand): Sym {
  const [x, y] = lift("Where", [a, b]);
  if (cond.dtype !== "bool") fail("Where", [cond, x!, y!], "the condition must be bool");
  if (x!.dtype !== y!.dtype) fail("Where", [cond, x!, y!], "dtypes differ");
  const shape = broadcastShapes(cond.shape, x!.shape, y!.shape);
  if (shape === undefined) fail("Where", [cond, x!, y!], "shapes do not broadcast");
  return cond.graph.node("Where", [cond, x!, y!], {}, [{ dtype: x!.dtype, shape }])[0]!;
}

/** Converts to `dtype`. */
export function cast(x: Sym, dtype: DType): Sym {
  if (x.dtype === dtype) return x;
  return x.graph.node("Cast", [x], { to: { int: ONNX_DTYPE[dtype] } }, [{ dtype, shape: x.shape }])[0]!;
}

/** Matrix product over the last two dims with broadcast batch dims (both operands rank >= 2). */
export function matmul(a: Sym, b: Sym): Sym {
  if (a.rank < 2 || b.rank < 2) fail("MatMul", [a, b], "both operands need rank >= 2");
  if (a.dtype !== b.dtype) fail("MatMul", [a, b], "dtypes differ");
  const k = a.shape[a.rank - 1]!;
  if (k !== b.shape[b.rank - 2]) fail("MatMul", [a, b], `inner dims ${k} and ${b.shape[b.rank - 2]} differ`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (batch === undefined) fail("MatMul", [a, b], "batch dims do not broadcast");
  const shape = [...batch, a.shape[a.rank - 2]!, b.shape[b.rank - 1]!];
  return a.graph.node("MatMul", [a, b], {}, [{ dtype: a.dtype, shape }])[0]!;
}

/** Options of the reductions. */
export interface ReduceOptions {
  /** Keep reduced dims as size 1 (default false). */
  keepDims?: boolean;
}

function reduce(op: string, x: Sym, axes: number | readonly number[], options: ReduceOptions): Sym {
  const list = (typeof axes === "number" ? [axes] : [...axes]).map((a) => normAxis(op, x, a));
  const uniq = [...new Set(list)].sort((p, q) => p - q);
  if (uniq.length === 0) fail(op, [x], "no axes given");
  const keep = options.keepDims ?? false;
  const shape = keep ? x.shape.map((d, i) => (uniq.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !uniq.includes(i));
  return x.graph.node(op, [x, int64s(x.graph, uniq)], { keepdims: { int: keep ? 1 : 0 } }, [{
    dtype: x.dtype,
    shape,
  }])[0]!;
}

/** Sum over `axes`. */
export function reduceSum(x: Sym, axes: number | readonly number[], options: ReduceOptions = {}): Sym {
  return reduce("ReduceSum", x, axes, options);
}
/** Mean over `axes`. */
export function reduceMean(x: Sym, axes: number | readonly number[], options: ReduceOptions = {}): Sym {
  return reduce("ReduceMean", x, axes, options);
}
/** Maximum over `axes`. */
export function reduceMax(x: Sym, axes: number | readonly number[], options: ReduceOptions = {}): Sym {
  return reduce("ReduceMax", x, axes, options);
}

/** Softmax over one axis (a primitive: its rule reuses the output, cheaper than differentiating exp/sum/div). */
export function softmax(x: Sym, axis = -1): Sym {
  return x.graph.node("Softmax", [x], { axis: { int: normAxis("Softmax", x, axis) } }, [{
    dtype: x.dtype,
    shape: x.shape,
  }])[0]!;
}

/** Log-softmax over one axis (a primitive for the same reason as softmax, and for its numerical stability). */
export function logSoftmax(x: Sym, axis = -1): Sym {
  return x.graph.node("LogSoftmax", [x], { axis: { int: normAxis("LogSoftmax", x, axis) } }, [{
    dtype: x.dtype,
    shape: x.shape,
  }])[0]!;
}

/** Reshape; one dim may be -1 (inferred). The emitted shape is always concrete. */
export function reshape(x: Sym, shape: readonly number[]): Sym {
  const known = shape.filter((d) => d !== -1).reduce((p, q) => p * q, 1);
  const free = shape.filter((d) => d === -1).length;
  const resolved = shape.map((d) => (d === -1 ? x.size / Math.max(known, 1) : d));
  if (
    free > 1 || resolved.some((d) => !Number.isInteger(d) || d < 0) || resolved.reduce((p, q) => p * q, 1) !== x.size
  ) {
    fail("Reshape", [x], `cannot reshape to ${fmtShape(shape)}`);
  }
  if (resolved.length === x.rank && resolved.every((d, i) => d === x.shape[i])) return x;
  return x.graph.node("Reshape", [x, int64s(x.graph, resolved)], {}, [{ dtype: x.dtype, shape: resolved }])[0]!;
}

/** Permutes dims (default: reverse them). */
export function transpose(x: Sym, perm?: readonly number[]): Sym {
  const p = perm ? perm.map((a) => normAxis("Transpose", x, a)) : x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || new Set(p).size !== x.rank) fail("Transpose", [x], `bad permutation [${perm}]`);
  if (p.every((a, i) => a === i)) return x;
  // Transpose of a transpose is one transpose of the original (none when the perms cancel).
  const inner = x.producer;
  if (inner?.op === "Transpose") {
    const first = (inner.attrs.perm as { ints: readonly number[] }).ints;
    return transpose(inner.inputs[0]!, p.map((a) => first[a]!));
  }
  return x.graph.node("Transpose", [x], { perm: { ints: p } }, [{
    dtype: x.dtype,
    shape: p.map((a) => x.shape[a]!),
  }])[0]!;
}

/** Joins tensors along `axis`. */
export function concat(xs: readonly Sym[], axis: number): Sym {
  const first = xs[0];
  if (first === undefined) throw new GraphBuildError(`Cannot apply "Concat" to an empty list`);
  const a = normAxis("Concat", first, axis);
  for (const x of xs) {
    if (x.dtype !== first.dtype || x.rank !== first.rank || x.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      fail("Concat", xs, `shapes differ outside axis ${a}`);
    }
  }
  const shape = first.shape.map((d, i) => (i === a ? xs.reduce((s, x) => s + x.shape[i]!, 0) : d));
  return first.graph.node("Concat", xs, { axis: { int: a } }, [{ dtype: first.dtype, shape }])[0]!;
}

/** Options of `slice`: per listed axis, a [start, end) range with a step; negative values count from the end. */
export interface SliceOptions {
  starts: readonly number[];
  ends: readonly number[];
  axes?: readonly number[];
  steps?: readonly number[];
}

/** Numpy-style slicing along some axes. */
export function slice(x: Sym, options: SliceOptions): Sym {
  const axes = (options.axes ?? options.starts.map((_, i) => i)).map((a) => normAxis("Slice", x, a));
  const steps = options.steps ?? axes.map(() => 1);
  if (options.starts.length !== axes.length || options.ends.length !== axes.length || steps.length !== axes.length) {
    fail("Slice", [x], "starts, ends, axes and steps must have the same length");
  }
  const shape = [...x.shape];
  const starts: number[] = [];
  const ends: number[] = [];
  axes.forEach((axis, i) => {
    const dim = x.shape[axis]!;
    const step = steps[i]!;
    if (step === 0) fail("Slice", [x], "step 0");
    const clampIdx = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + dim : v, lo), hi);
    const s = step > 0 ? clampIdx(options.starts[i]!, 0, dim) : clampIdx(options.starts[i]!, -1, dim - 1);
    const e = step > 0 ? clampIdx(options.ends[i]!, 0, dim) : clampIdx(options.ends[i]!, -1, dim - 1);
    shape[axis] = Math.max(0, Math.ceil((e - s) / step));
    starts.push(s);
    ends.push(step < 0 && e === -1 ? -dim - 1 : e);
  });
  const g = x.graph;
  return g.node("Slice", [x, int64s(g, starts), int64s(g, ends), int64s(g, axes), int64s(g, steps)], {}, [{
    dtype: x.dtype,
    shape,
  }])[0]!;
}

function checkIndices(op: string, x: Sym, idx: Sym): void {
  if (idx.dtype !== "int64" && idx.dtype !== "int32") fail(op, [x, idx], "indices must be int32 or int64");
}

/** Takes slices of `x` along `axis` at `indices` (embedding lookup with axis 0). */
export function gather(x: Sym, indices: Sym, axis = 0): Sym {
  checkIndices("Gather", x, indices);
  const a = normAxis("Gather", x, axis);
  const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  return x.graph.node("Gather", [x, indices], { axis: { int: a } }, [{ dtype: x.dtype, shape }])[0]!;
}

/** out[i][j] = x[indices[i][j]][j] along `axis` (indices has x's rank). */
export function gatherElements(x: Sym, indices: Sym, axis: number): Sym {
  checkIndices("GatherElements", x, indices);
  const a = normAxis("GatherElements", x, axis);
  if (indices.rank !== x.rank || indices.shape.some((d, i) => i !== a && d > x.shape[i]!)) {
    fail("GatherElements", [x, indices], "indices must have the data's rank and fit inside it");
  }
  return x.graph.node("GatherElements", [x, indices], { axis: { int: a } }, [{
    dtype: x.dtype,
    shape: indices.shape,
  }])[0]!;
}

/** Gathers slices of `x` addressed by the last dim of `indices` (batch_dims 0). */
export function gatherND(x: Sym, indices: Sym): Sym {
  checkIndices("GatherND", x, indices);
  const k = indices.shape[indices.rank - 1] ?? 0;
  if (indices.rank < 1 || k < 1 || k > x.rank) fail("GatherND", [x, indices], "the last indices dim must be 1..rank");
  const shape = [...indices.shape.slice(0, -1), ...x.shape.slice(k)];
  return x.graph.node("GatherND", [x, indices], {}, [{ dtype: x.dtype, shape }])[0]!;
}

/** How scatter ops combine updates with the data. */
export type ScatterReduction = "none" | "add";

/** Writes (or adds, with reduction "add") `updates` into `data` at the positions in the last dim of `indices`. */
export function scatterND(data: Sym, indices: Sym, updates: Sym, reduction: ScatterReduction = "none"): Sym {
  checkIndices("ScatterND", data, indices);
  const k = indices.shape[indices.rank - 1] ?? 0;
  const want = [...indices.shape.slice(0, -1), ...data.shape.slice(k)];
  if (k < 1 || k > data.rank || updates.dtype !== data.dtype || fmtShape(updates.shape) !== fmtShape(want)) {
    fail("ScatterND", [data, indices, updates], `updates must be ${data.dtype}${fmtShape(want)}`);
  }
  return data.graph.node("ScatterND", [data, indices, updates], { reduction: { string: reduction } }, [{
    dtype: data.dtype,
    shape: data.shape,
  }])[0]!;
}

/** Element-wise scatter along `axis` (the inverse of gatherElements). */
export function scatterElements(
  data: Sym,
  indices: Sym,
  updates: Sym,
  axis: number,
  reduction: ScatterReduction = "none",
): Sym {
  checkIndices("ScatterElements", data, indices);
  const a = normAxis("ScatterElements", data, axis);
  if (
    fmtShape(indices.shape) !== fmtShape(updates.shape) || indices.rank !== data.rank || updates.dtype !== data.dtype
  ) {
    fail("ScatterElements", [data, indices, updates], "indices and updates must match and have the data's rank");
  }
  return data.graph.node("ScatterElements", [data, indices, updates], {
    axis: { int: a },
    reduction: { string: reduction },
  }, [{ dtype: data.dtype, shape: data.shape }])[0]!;
}

/** Broadcasts `x` to `shape` (the result is the broadcast of both shapes, as in ONNX). */
export function expand(x: Sym, shape: readonly number[]): Sym {
  const out = broadcastShapes(x.shape, shape);
  if (out === undefined) fail("Expand", [x], `cannot broadcast to ${fmtShape(shape)}`);
  if (fmtShape(out) === fmtShape(x.shape)) return x;
  return x.graph.node("Expand", [x, int64s(x.graph, shape)], {}, [{ dtype: x.dtype, shape: out }])[0]!;
}

/** Options of `cumSum`. */
export interface CumSumOptions {
  exclusive?: boolean;
  reverse?: boolean;
}

/** Cumulative sum along `axis`. */
export function cumSum(x: Sym, axis: number, options: CumSumOptions = {}): Sym {
  const a = normAxis("CumSum", x, axis);
  const g = x.graph;
  return g.node("CumSum", [x, g.constant(tensorOf("int64", [], [a]))], {
    exclusive: { int: options.exclusive ? 1 : 0 },
    reverse: { int: options.reverse ? 1 : 0 },
  }, [{ dtype: x.dtype, shape: x.shape }])[0]!;
}

/** Keeps the lower (or upper) triangle of the last two dims, offset by diagonal `k`; zeroes the rest. */
export function trilu(x: Sym, options: { upper?: boolean; k?: number } = {}): Sym {
  if (x.rank < 2) fail("Trilu", [x], "rank must be >= 2");
  const g = x.graph;
  return g.node("Trilu", [x, g.constant(tensorOf("int64", [], [options.k ?? 0]))], {
    upper: { int: options.upper ? 1 : 0 },
  }, [{ dtype: x.dtype, shape: x.shape }])[0]!;
}

/** Pads with a constant: `pads` is [begin_0, ..., begin_n, end_0, ..., end_n] as in ONNX. */
export function pad(x: Sym, pads: readonly number[], value = 0): Sym {
  if (pads.length !== 2 * x.rank || pads.some((p) => !Number.isInteger(p))) {
    fail("Pad", [x], `pads [${pads}] must hold 2 x rank integers`);
  }
  const shape = x.shape.map((d, i) => d + pads[i]! + pads[i + x.rank]!);
  if (shape.some((d) => d < 0)) fail("Pad", [x], `pads [${pads}] cut below zero`);
  const g = x.graph;
  return g.node("Pad", [x, int64s(g, pads), g.scalar(value, x.dtype)], { mode: { string: "constant" } }, [{
    dtype: x.dtype,
    shape,
  }])[0]!;
}

/** Index of the maximum along `axis` (int64). */
export function argMax(x: Sym, axis: number, options: ReduceOptions = {}): Sym {
  const a = normAxis("ArgMax", x, axis);
  const keep = options.keepDims ?? false;
  const shape = keep ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
  return x.graph.node("ArgMax", [x], { axis: { int: a }, keepdims: { int: keep ? 1 : 0 } }, [{
    dtype: "int64",
    shape,
  }])[0]!;
}

/** The `k` largest values along `axis` and their int64 indices (sorted, descending). */
export function topK(x: Sym, k: number, axis = -1): [Sym, Sym] {
  const a = normAxis("TopK", x, axis);
  if (!Number.isInteger(k) || k < 1 || k > x.shape[a]!) fail("TopK", [x], `k ${k} is out of range`);
  const shape = x.shape.map((d, i) => (i === a ? k : d));
  const [values, indices] = x.graph.node("TopK", [x, int64s(x.graph, [k])], { axis: { int: a } }, [
    { dtype: x.dtype, shape },
    { dtype: "int64", shape },
  ]);
  return [values!, indices!];
}

/** Escape hatch: any ONNX op with explicitly given output types (no gradient rule unless one is registered). */
export function custom(...node: Parameters<Graph["node"]>): Sym[] {
  const [op, inputs] = node;
  return graphOf(op, inputs).node(...node);
}
