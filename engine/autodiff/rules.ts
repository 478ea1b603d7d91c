/**
 * Every gradient rule, in one table. A rule gets the node, its inputs `x`, its first output `y` and the cotangent
 * `g` of that output, and returns one cotangent per input (`null` for none). Rules never handle broadcasting: the
 * walker reduces (or expands) each returned cotangent to its input's shape.
 */
import { GraphBuildError, type Node, op, type Sym } from "../graph/mod.ts";

/** What a rule sees. */
export interface RuleContext {
  node: Node;
  x: readonly Sym[];
  y: Sym;
  g: Sym;
  /** Which inputs need a cotangent; rules may skip work for the others. */
  wants: readonly boolean[];
}

/** One gradient rule. */
export type GradRule = (c: RuleContext) => (Sym | null)[];

function ints(node: Node, input: number): number[] {
  const value = node.inputs[input]?.value;
  if (value === undefined) {
    throw new GraphBuildError(`Cannot differentiate "${node.op}": input ${input} must be a constant`);
  }
  return Array.from(value.data as ArrayLike<number | bigint>, Number);
}

function intAttr(node: Node, name: string, fallback: number): number {
  const a = node.attrs[name];
  return a !== undefined && "int" in a ? a.int : fallback;
}

function zeros(like: Sym, shape = like.shape): Sym {
  return op.expand(like.graph.scalar(0, like.dtype), shape);
}

/** True for `Expand(0)`: the zeros a scatter rule starts from. */
export function isZeros(x: Sym): boolean {
  const node = x.producer;
  if (node?.op !== "Expand") return false;
  const value = node.inputs[0]!.value;
  return value !== undefined && value.size === 1 && Number(value.data[0]) === 0;
}

/** The indices and updates when `g` is a scatter-add into zeros along `axis` (GatherElements' rule), else null. */
function pickedCotangent(g: Sym, axis: number): { indices: Sym; updates: Sym } | null {
  const node = g.producer;
  const reduction = (node?.attrs.reduction as { string: string } | undefined)?.string;
  if (node?.op !== "ScatterElements" || reduction !== "add" || !isZeros(node.inputs[0]!)) return null;
  if (op.normAxis("ScatterElements", g, intAttr(node, "axis", 0)) !== axis) return null;
  return { indices: node.inputs[1]!, updates: node.inputs[2]! };
}

/** Swaps the last two dims. */
function mT(x: Sym): Sym {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return op.transpose(x, perm);
}

/** The reduced-with-keepdims shape of a reduction node. */
function keptShape(node: Node, x: Sym): { axes: number[]; keep: number[] } {
  const axes = ints(node, 1).map((a) => (a < 0 ? a + x.rank : a));
  return { axes, keep: x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) };
}

/** x [..., d] as a contiguous [d, prod(...)]: a real Transpose (the Reshape after it keeps onnxruntime from folding
 * it into the MatMul as transA, which is the slow path, see weightGrad). */
function transposedRows(x: Sym): Sym {
  const last = x.rank - 1;
  return op.reshape(op.transpose(x, [last, ...x.shape.slice(0, last).map((_, i) => i)]), [x.shape[last]!, -1]);
}

/**
 * The gradient [K, N] of a 2-D weight b under a batched activation a [..., K] with output cotangent g [..., N]:
 * aᵀ g over all B·T rows as one plain row-major GEMM whose transposed operand is materialised first (it has only
 * B·T rows, 256 for a 2x128 batch). Folded into the MatMul as transA, MLAS re-transposes it for every 128-column
 * panel: measured with one thread (CPU time, the 0.5B model's shapes from 256 rows) 25 -> 34 GFLOP/s for the
 * 32768x896 LM head, 35 -> 42 for 4864x896, 48 -> 57 for 896x4864. A weight used as Wᵀ (nn.linear) gets
 * (gᵀ a)ᵀ, whose outer transpose cancels against the Transpose rule's own, so dW = gᵀ a is written directly and
 * no weight-sized Transpose runs.
 */
function weightGrad(a: Sym, b: Sym, g: Sym): Sym {
  const k = a.shape[a.rank - 1]!;
  const n = g.shape[g.rank - 1]!;
  return b.producer?.op === "Transpose"
    ? op.transpose(op.matmul(transposedRows(g), op.reshape(a, [-1, k])))
    : op.matmul(transposedRows(a), op.reshape(g, [-1, n]));
}

/** The table: ONNX op type -> rule. Ops with integer or bool outputs never reach it. */
export const RULES: Readonly<Record<string, GradRule>> = {
  Identity: ({ g }) => [g],
  Add: ({ g }) => [g, g],
  Sub: ({ g }) => [g, op.neg(g)],
  Mul: ({ x: [a, b], g }) => [op.mul(g, b!), op.mul(g, a!)],
  // d(a/b)/db = -a/b^2 = -y/b
  Div: ({ x: [, b], y, g, wants }) => [op.div(g, b!), wants[1] ? op.neg(op.div(op.mul(g, y), b!)) : null],
  Pow: ({ x: [a, b], y, g, wants }) => [
    op.mul(g, op.mul(b!, op.pow(a!, op.sub(b!, 1)))),
    wants[1] ? op.mul(g, op.mul(y, op.log(a!))) : null,
  ],
  // Ties send the whole cotangent to the first operand, like torch.maximum's subgradient choice being arbitrary.
  Max: ({ x: [a, b], g }) => {
    const bWins = op.less(a!, b!);
    return [op.where(bWins, 0, g), op.where(bWins, g, 0)];
  },
  Min: ({ x: [a, b], g }) => {
    const bWins = op.greater(a!, b!);
    return [op.where(bWins, 0, g), op.where(bWins, g, 0)];
  },
  Neg: ({ g }) => [op.neg(g)],
  Exp: ({ y, g }) => [op.mul(g, y)],
  Log: ({ x: [a], g }) => [op.div(g, a!)],
  Sqrt: ({ y, g }) => [op.div(op.mul(g, 0.5), y)],
  Reciprocal: ({ y, g }) => [op.neg(op.mul(g, op.mul(y, y)))],
  Tanh: ({ y, g }) => [op.mul(g, op.sub(1, op.mul(y, y)))],
  Sigmoid: ({ y, g }) => [op.mul(g, op.mul(y, op.sub(1, y)))],
  Abs: ({ x: [a], g }) => [op.mul(g, op.sign(a!))],
  Sign: () => [null],
  Relu: ({ x: [a], g }) => [op.where(op.greater(a!, 0), g, 0)],
  Sin: ({ x: [a], g }) => [op.mul(g, op.cos(a!))],
  Cos: ({ x: [a], g }) => [op.neg(op.mul(g, op.sin(a!)))],
  Where: ({ x: [c], g }) => [null, op.where(c!, g, 0), op.where(c!, 0, g)],
  Cast: ({ x: [a], g }) => [op.cast(g, a!.dtype)],
  MatMul: ({ x: [a, b], g, wants }) => {
    const db = !wants[1] ? null : b!.rank === 2 && a!.rank > 2 ? weightGrad(a!, b!, g) : op.matmul(mT(a!), g);
    return [wants[0] ? op.matmul(g, mT(b!)) : null, db];
  },
  ReduceSum: ({ node, x: [a], g }) => {
    const { keep } = keptShape(node, a!);
    return [op.expand(op.reshape(g, keep), a!.shape), null];
  },
  ReduceMean: ({ node, x: [a], g }) => {
    const { keep } = keptShape(node, a!);
    const count = a!.size / keep.reduce((p, q) => p * q, 1);
    return [op.expand(op.reshape(op.mul(g, 1 / count), keep), a!.shape), null];
  },
  // Ties share the cotangent equally (the mean of the tied subgradients).
  ReduceMax: ({ node, x: [a], y, g }) => {
    const { axes, keep } = keptShape(node, a!);
    const mask = op.cast(op.equal(a!, op.reshape(y, keep)), a!.dtype);
    const share = op.div(op.reshape(g, keep), op.reduceSum(mask, axes, { keepDims: true }));
    return [op.mul(mask, share), null];
  },
  Softmax: ({ node, y, g }) => {
    const axis = intAttr(node, "axis", -1);
    const gy = op.mul(g, y);
    return [op.sub(gy, op.mul(y, op.reduceSum(gy, axis, { keepDims: true })))];
  },
  LogSoftmax: ({ node, y, g }) => {
    const axis = op.normAxis("LogSoftmax", y, intAttr(node, "axis", -1));
    const picked = pickedCotangent(g, axis);
    // Picked entries only (a token log-prob loss): g - softmax * sum(g) as one scatter-add of the picked cotangents
    // into -softmax * sum; three logits-sized passes instead of six (zeros, scatter, sum, exp, mul, sub).
    if (picked !== null) {
      const total = op.neg(op.reduceSum(picked.updates, axis, { keepDims: true }));
      return [op.scatterElements(op.mul(op.exp(y), total), picked.indices, picked.updates, axis, "add")];
    }
    return [op.sub(g, op.mul(op.exp(y), op.reduceSum(g, axis, { keepDims: true })))];
  },
  Reshape: ({ x: [a], g }) => [op.reshape(g, a!.shape), null],
  Transpose: ({ node, g }) => {
    const perm = (node.attrs.perm as { ints: number[] }).ints;
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [op.transpose(g, inverse)];
  },
  Concat: ({ node, x, g }) => {
    const axis = intAttr(node, "axis", 0);
    let start = 0;
    return x.map((part) => {
      const end = start + part.shape[axis]!;
      const piece = op.slice(g, { starts: [start], ends: [end], axes: [axis] });
      start = end;
      return piece;
    });
  },
  Slice: ({ node, x: [a], g }) => {
    const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => ints(node, i));
    if (steps!.some((s) => s !== 1)) {
      throw new GraphBuildError(`Cannot differentiate "Slice" with steps [${steps}]: only step 1 has a rule`);
    }
    const pads = new Array<number>(2 * a!.rank).fill(0);
    axes!.forEach((axis, i) => {
      pads[axis] = starts![i]!;
      pads[axis + a!.rank] = a!.shape[axis]! - ends![i]!;
    });
    return [op.pad(g, pads), null, null, null, null];
  },
  Pad: ({ node, x: [a], g }) => {
    const pads = ints(node, 1);
    const r = a!.rank;
    return [op.slice(g, { starts: pads.slice(0, r), ends: a!.shape.map((d, i) => pads[i]! + d) }), null, null];
  },
  Expand: ({ g }) => [g, null],
  Gather: ({ node, x: [a, idx], g }) => {
    // Scatter-add rows back: ScatterND(zeros, idx[..., None], g, "add") for axis 0; other axes are moved to the
    // front first so the same scatter applies.
    const axis = intAttr(node, "axis", 0);
    const q = idx!.rank;
    const rest = a!.shape.filter((_, i) => i !== axis);
    const pre = axis;
    const perm = [
      ...Array.from({ length: q }, (_, i) => pre + i),
      ...Array.from({ length: pre }, (_, i) => i),
      ...Array.from({ length: a!.rank - 1 - pre }, (_, i) => pre + q + i),
    ];
    const gFront = op.transpose(g, perm);
    const front = [a!.shape[axis]!, ...rest];
    const scattered = op.scatterND(zeros(a!, front), op.reshape(idx!, [...idx!.shape, 1]), gFront, "add");
    const back = [...Array.from({ length: pre }, (_, i) => i + 1), 0, ...rest.slice(pre).map((_, i) => pre + 1 + i)];
    return [op.transpose(scattered, back), null];
  },
  GatherElements: ({ node, x: [a, idx], g }) => [
    op.scatterElements(zeros(a!), idx!, g, intAttr(node, "axis", 0), "add"),
    null,
  ],
  GatherND: ({ x: [a, idx], g }) => [op.scatterND(zeros(a!), idx!, g, "add"), null],
  ScatterND: ({ node, x: [, idx, upd], g }) => {
    const add = (node.attrs.reduction as { string: string } | undefined)?.string === "add";
    return [add ? g : op.scatterND(g, idx!, zeros(upd!)), null, op.gatherND(g, idx!)];
  },
  ScatterElements: ({ node, x: [, idx, upd], g }) => {
    const axis = intAttr(node, "axis", 0);
    const add = (node.attrs.reduction as { string: string } | undefined)?.string === "add";
    return [add ? g : op.scatterElements(g, idx!, zeros(upd!), axis), null, op.gatherElements(g, idx!, axis)];
  },
  CumSum: ({ node, g }) => [
    op.cumSum(g, ints(node, 1)[0]!, {
      reverse: intAttr(node, "reverse", 0) === 0,
      exclusive: intAttr(node, "exclusive", 0) === 1,
    }),
    null,
  ],
  Trilu: ({ node, g }) => [op.trilu(g, { upper: intAttr(node, "upper", 1) === 1, k: ints(node, 1)[0] ?? 0 }), null],
  TopK: ({ node, x: [a], g }) => [
    op.scatterElements(zeros(a!), node.outputs[1]!, g, intAttr(node, "axis", -1), "add"),
    null,
  ],
};
