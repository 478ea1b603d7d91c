/**
 * Compositions of primitive ops that models and losses share. None has its own gradient rule: the backward walker
 * differentiates them through their primitives.
 */
import * as op from "./ops.ts";
import { GraphShapeError, type Sym } from "./graph.ts";

/** Inserts a size-1 dim at `axis`. */
export function unsqueeze(x: Sym, axis: number): Sym {
  const a = axis < 0 ? axis + x.rank + 1 : axis;
  return op.reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

/** Removes the size-1 dim at `axis`. */
export function squeeze(x: Sym, axis: number): Sym {
  const a = op.normAxis("Squeeze", x, axis);
  if (x.shape[a] !== 1) throw new GraphShapeError(`Cannot squeeze axis ${axis} of ${x}: its size is not 1`);
  return op.reshape(x, x.shape.filter((_, i) => i !== a));
}

/** y = x @ weight^T (+ bias), with `weight` in the [out, in] layout of torch/HF Linear. */
export function linear(x: Sym, weight: Sym, bias?: Sym): Sym {
  const y = op.matmul(x, op.transpose(weight));
  return bias ? op.add(y, bias) : y;
}

/** x * sigmoid(x) (SiLU / swish). */
export function silu(x: Sym): Sym {
  return op.mul(x, op.sigmoid(x));
}

/** RMSNorm over the last dim as in HF Llama/Qwen2: weight * x / sqrt(mean(x^2) + eps). */
export function rmsNorm(x: Sym, weight: Sym, eps: number): Sym {
  const ms = op.reduceMean(op.mul(x, x), -1, { keepDims: true });
  return op.mul(op.mul(x, op.reciprocal(op.sqrt(op.add(ms, eps)))), weight);
}

/**
 * log(sum(exp(x))) over `axis`. The shift by the max is wrapped in stopGradient: it cancels in the value, and
 * cutting it keeps the gradient exactly softmax(x) without going through ReduceMax's tie rule.
 */
export function logSumExp(x: Sym, axis = -1, options: op.ReduceOptions = {}): Sym {
  const m = op.stopGradient(op.reduceMax(x, axis, { keepDims: true }));
  const lse = op.add(op.log(op.reduceSum(op.exp(op.sub(x, m)), axis, { keepDims: true })), m);
  return options.keepDims ? lse : op.reshape(lse, lse.shape.filter((_, i) => i !== op.normAxis("LogSumExp", x, axis)));
}

/** log p(target) for each position: logits [..., V], targets int [...] -> [...]. */
export function tokenLogProbs(logits: Sym, targets: Sym): Sym {
  const lp = op.logSoftmax(logits, -1);
  return squeeze(op.gatherElements(lp, unsqueeze(targets, -1), -1), -1);
}

/** Mean of `x` where `mask` (same shape, float 0/1) is 1; 0 when the mask is empty. */
export function maskedMean(x: Sym, mask: Sym): Sym {
  const all = x.shape.map((_, i) => i);
  const total = op.reduceSum(op.mul(x, mask), all);
  return op.div(total, op.max(op.reduceSum(mask, all), 1));
}

/** Mean next-token cross-entropy: logits [..., V], targets int [...], optional float mask [...]. */
export function crossEntropy(logits: Sym, targets: Sym, mask?: Sym): Sym {
  const nll = op.neg(tokenLogProbs(logits, targets));
  return mask ? maskedMean(nll, mask) : op.reduceMean(nll, nll.shape.map((_, i) => i));
}
