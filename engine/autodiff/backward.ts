/**
 * The backward walker: visits nodes in reverse creation (= reverse topological) order, pruned to those that both
 * depend on a `wrt` tensor and reach the loss, stops at `stopGradient`, sums cotangents that meet, and reduces (or
 * expands) each rule's output to its input's shape so rules never deal with broadcasting.
 */
import { fmtShape, GraphBuildError, GraphShapeError, isFloat, type Node, op, type Sym } from "../graph/mod.ts";
import { isZeros, RULES } from "./rules.ts";

/** Raised when an op on the path from the parameters to the loss has no gradient rule. */
export class MissingGradRuleError extends GraphBuildError {
  override name = "MissingGradRuleError";
}

/** Brings a cotangent to `target`'s shape: sums broadcast axes away, expands size-1 axes. */
export function sumToShape(grad: Sym, target: Sym, what: string): Sym {
  const want = target.shape;
  if (fmtShape(grad.shape) === fmtShape(want)) return grad;
  const joint = op.broadcastShapes(grad.shape, want);
  if (joint === undefined || joint.length !== Math.max(grad.rank, want.length)) {
    throw new GraphShapeError(
      `Cannot bring the gradient ${fmtShape(grad.shape)} of "${what}" to input shape ${fmtShape(want)}`,
    );
  }
  // Align ranks first (a rule may return fewer dims), then sum every axis the input was broadcast along.
  let out = grad.rank < want.length
    ? op.reshape(grad, [...want.slice(0, want.length - grad.rank).map(() => 1), ...grad.shape])
    : grad;
  const extra = out.rank - want.length;
  const axes = out.shape.map((d, i) => (i < extra || (d !== 1 && want[i - extra] === 1) ? i : -1)).filter((i) =>
    i >= 0
  );
  if (axes.length > 0) {
    const kept = out.shape.slice(extra).map((d, i) => (axes.includes(i + extra) ? 1 : d));
    out = op.reshape(op.reduceSum(out, axes, { keepDims: true }), kept);
  }
  return op.expand(out, want);
}

/**
 * prev + c, except that a scatter-add into zeros (Gather's rule: the embedding gradient) scatters into the other
 * cotangent instead: for a tied embedding that saves a zero-filled [V, D] buffer and an Add over it.
 */
function addCotangents(prev: Sym, c: Sym): Sym {
  for (const [scatter, dense] of [[c, prev], [prev, c]] as const) {
    const node = scatter.producer;
    const reduction = (node?.attrs.reduction as { string: string } | undefined)?.string;
    if (
      node?.op === "ScatterND" && reduction === "add" && isZeros(node.inputs[0]!) &&
      fmtShape(dense.shape) === fmtShape(scatter.shape)
    ) {
      return op.scatterND(dense, node.inputs[1]!, node.inputs[2]!, "add");
    }
  }
  return op.add(prev, c);
}

/** Options of `gradients`. */
export interface GradientsOptions {
  /** The cotangent of `loss` (default: 1, which requires a scalar-sized loss). */
  seed?: Sym;
}

/**
 * Reverse-mode gradients of `loss` with respect to each of `wrt`, as new nodes in the same graph. A `wrt` the loss
 * does not depend on gets zeros. Throws `MissingGradRuleError` naming the op when a node on the path has no rule.
 */
export function gradients(loss: Sym, wrt: readonly Sym[], options: GradientsOptions = {}): Sym[] {
  const graph = loss.graph;
  if (!isFloat(loss.dtype)) throw new GraphBuildError(`Cannot differentiate ${loss}: the loss must be a float tensor`);
  // Forward pass of the pruning: values that depend on some wrt through float edges.
  const active = new Set<Sym>(wrt);
  for (const node of graph.nodes) {
    if (node.inputs.some((s) => active.has(s))) {
      for (const out of node.outputs) if (isFloat(out.dtype) && !graph.stopped.has(out)) active.add(out);
    }
  }
  // Backward pass of the pruning: nodes that reach the loss.
  const reaches = new Set<Node>();
  const stack: Node[] = loss.producer ? [loss.producer] : [];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (reaches.has(node)) continue;
    reaches.add(node);
    for (const input of node.inputs) if (input.producer && active.has(input)) stack.push(input.producer);
  }

  const grads = new Map<Sym, Sym>();
  let seed = options.seed;
  if (seed === undefined) {
    if (loss.size !== 1) throw new GraphBuildError(`Cannot seed the gradient of ${loss}: it is not a scalar`);
    seed = op.expand(graph.scalar(1, loss.dtype), loss.shape);
  }
  grads.set(loss, seed);
  const nodes = graph.nodes.filter((n) => reaches.has(n));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    const y = node.outputs[0]!;
    const g = grads.get(y);
    if (g === undefined || graph.stopped.has(y)) continue;
    const rule = RULES[node.op];
    if (rule === undefined) {
      const shapes = node.inputs.map((s) => `${s.dtype}${fmtShape(s.shape)}`).join(", ");
      throw new MissingGradRuleError(`No gradient rule for op "${node.op}" (inputs ${shapes})`);
    }
    const wants = node.inputs.map((s) => active.has(s));
    const cotangents = rule({ node, x: node.inputs, y, g, wants });
    node.inputs.forEach((input, k) => {
      const c = cotangents[k];
      if (!wants[k] || c === null || c === undefined) return;
      const shaped = sumToShape(c, input, node.op);
      const prev = grads.get(input);
      grads.set(input, prev ? addCotangents(prev, shaped) : shaped);
    });
  }
  return wrt.map((w) => grads.get(w) ?? op.expand(graph.scalar(0, w.dtype), w.shape));
}
