/**
 * AdamW (Loshchilov & Hutter; torch.optim.AdamW semantics) as graph nodes, so the update runs inside the same
 * onnxruntime session as the forward and backward pass. Global-norm clipping (torch's clip_grad_norm_) is folded
 * into the moment updates: the clip coefficient scales (1 - beta1) and (1 - beta2) instead of the gradients.
 */
import { GraphBuildError, op, type Sym } from "../graph/mod.ts";

/** AdamW hyper-parameters (the learning rate is a graph input, so it can follow a schedule without recompiling). */
export interface AdamWOptions {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay (default 0). */
  weightDecay?: number;
  /** Clip the global gradient norm to this value (default: no clipping). */
  maxGradNorm?: number;
  /** Which parameters decay (default: rank >= 2, i.e. matrices and embeddings, not biases or norm weights). */
  decays?: (name: string, param: Sym) => boolean;
}

/** The scalars shared by every parameter's update in one step. */
export interface AdamWScalars {
  /** Learning rate, float32 []. */
  lr: Sym;
  /** 1-based step number of this update, float32 []. */
  step: Sym;
  /** Multiplier of the gradients (clip coefficient times 1/microBatches), float32 []. */
  gradScale: Sym;
}

/** New parameter and moments of one tensor. */
export interface AdamWResult {
  param: Sym;
  m: Sym;
  v: Sym;
}

/** Per-step scalars computed once, so each parameter costs only a few elementwise passes. */
export interface AdamWStepTerms {
  /** (1 - b1) c */
  gm: Sym;
  /** (1 - b2) c^2 */
  gv: Sym;
  /** lr sqrt(1 - b2^t) / (1 - b1^t) */
  stepSize: Sym;
  /** eps sqrt(1 - b2^t) */
  epsHat: Sym;
  lr: Sym;
}

/** Builds the per-step scalars once (bias corrections from the step input). */
export function adamwTerms(s: AdamWScalars, options: AdamWOptions = {}): AdamWStepTerms {
  const b1 = options.beta1 ?? 0.9;
  const b2 = options.beta2 ?? 0.999;
  const g = s.lr.graph;
  const bc1 = op.sub(1, op.pow(g.scalar(b1), s.step));
  const sqrtBc2 = op.sqrt(op.sub(1, op.pow(g.scalar(b2), s.step)));
  return {
    gm: op.mul(s.gradScale, 1 - b1),
    gv: op.mul(op.mul(s.gradScale, s.gradScale), 1 - b2),
    stepSize: op.div(op.mul(s.lr, sqrtBc2), bc1),
    epsHat: op.mul(sqrtBc2, options.eps ?? 1e-8),
    lr: s.lr,
  };
}

/**
 * One AdamW update of `param` with gradient `grad` (unscaled; `gradSq` = grad^2 when already computed for the norm)
 * and moments m, v, with c = gradScale and bias corrections bc1 = 1 - b1^t, bc2 = 1 - b2^t:
 *   m' = b1 m + (1-b1) c g,  v' = b2 v + (1-b2) c^2 g^2
 *   p' = p (1 - lr wd) - lr (m'/bc1) / (sqrt(v'/bc2) + eps)
 * computed as p (1 - lr wd) - [lr sqrt(bc2)/bc1] m' / (sqrt(v') + eps sqrt(bc2)), which is the same expression with
 * the bias corrections moved onto scalars.
 */
export function adamwUpdate(
  name: string,
  tensors: { param: Sym; grad: Sym; gradSq?: Sym; m: Sym; v: Sym },
  terms: AdamWStepTerms,
  options: AdamWOptions = {},
): AdamWResult {
  const { param, grad, m, v } = tensors;
  const b1 = options.beta1 ?? 0.9;
  const b2 = options.beta2 ?? 0.999;
  const wd = options.weightDecay ?? 0;
  const decays = (options.decays ?? ((_, p) => p.rank >= 2))(name, param);
  const m2 = op.add(op.mul(m, b1), op.mul(grad, terms.gm));
  const v2 = op.add(op.mul(v, b2), op.mul(tensors.gradSq ?? op.mul(grad, grad), terms.gv));
  const update = op.mul(op.div(m2, op.add(op.sqrt(v2), terms.epsHat)), terms.stepSize);
  const decayed = decays && wd > 0 ? op.mul(param, op.sub(1, op.mul(terms.lr, wd))) : param;
  return { param: op.sub(decayed, update), m: m2, v: v2 };
}

/** The global L2 norm from each gradient's elementwise square (float32 []). */
export function globalNorm(squares: readonly Sym[]): Sym {
  let total: Sym | undefined;
  for (const g of squares) {
    const sq = g.rank === 0 ? g : op.reduceSum(g, g.shape.map((_, i) => i));
    total = total ? op.add(total, sq) : sq;
  }
  if (total === undefined) throw new GraphBuildError("Cannot take the global norm of an empty list of gradients");
  return op.sqrt(total);
}

/** True when `x` (a scalar) is neither NaN nor infinite. */
export function isFinite(x: Sym): Sym {
  return op.not(op.or(op.isNaN(x), op.isInf(x)));
}
