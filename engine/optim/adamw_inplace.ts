/**
 * AdamW applied in place to float32 buffers in JS, after the gradient graph: one fused pass per tensor reads the
 * gradient, parameter and both moments once and writes parameter and moments back into their own buffers. The
 * graph version (adamw.ts) needs ~12 elementwise ONNX passes per tensor and returns new state while the old is
 * still alive; this keeps one copy of each and touches memory ~4x less. Same formulas as adamw.ts (torch.optim.AdamW
 * with clip_grad_norm_ folded into the gradient scale), in float64 arithmetic rounded to float32 on store.
 */
import type { AdamWOptions } from "./adamw.ts";

/** The scalars of one update. */
export interface AdamWInPlaceStep {
  /** Learning rate. */
  lr: number;
  /** 1-based number of this update (bias corrections). */
  step: number;
  /** Multiplier of the gradient buffers (clip coefficient / micro-batches). */
  gradScale: number;
}

/** One tensor's buffers; `param`, `m` and `v` are updated in place, `grad` is only read. */
export interface AdamWBuffers {
  param: Float32Array;
  grad: Float32Array;
  m: Float32Array;
  v: Float32Array;
}

/** torch's clip_grad_norm_ coefficient: min(1, maxNorm / (norm + 1e-6)); 1 without clipping. */
export function clipCoefficient(norm: number, maxNorm: number | undefined): number {
  return maxNorm === undefined ? 1 : Math.min(1, maxNorm / (norm + 1e-6));
}

/** The scalar options of one tensor's update: the AdamW hyper-parameters and whether weight decay applies. */
export type AdamWInPlaceOptions = Omit<AdamWOptions, "decays"> & { decays: boolean };

/**
 * Applies one AdamW update to `buffers` (decoupled weight decay only when `decays`), to elements [start, end) when
 * a range is given (the parallel pool, optim/adamw_pool.ts, hands each thread a range; elements are independent, so
 * the result does not depend on the split).
 */
export function adamwInPlace(
  buffers: AdamWBuffers,
  s: AdamWInPlaceStep,
  options: AdamWInPlaceOptions,
  range?: { start: number; end: number },
): void {
  const { param, grad, m, v } = buffers;
  const n = param.length;
  if (grad.length !== n || m.length !== n || v.length !== n) {
    throw new RangeError(`adamwInPlace: buffer lengths differ (${n}, ${grad.length}, ${m.length}, ${v.length})`);
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? n;
  if (!(start >= 0 && start <= end && end <= n)) throw new RangeError(`adamwInPlace: bad range [${start}, ${end})`);
  const b1 = options.beta1 ?? 0.9;
  const b2 = options.beta2 ?? 0.999;
  const sqrtBc2 = Math.sqrt(1 - b2 ** s.step);
  const stepSize = (s.lr * sqrtBc2) / (1 - b1 ** s.step);
  const epsHat = (options.eps ?? 1e-8) * sqrtBc2;
  const gm = (1 - b1) * s.gradScale;
  const gv = (1 - b2) * s.gradScale * s.gradScale;
  const decay = options.decays ? 1 - s.lr * (options.weightDecay ?? 0) : 1;
  for (let i = start; i < end; i++) {
    const g = grad[i]!;
    const mi = (m[i] = b1 * m[i]! + gm * g);
    const vi = (v[i] = b2 * v[i]! + gv * g * g);
    param[i] = param[i]! * decay - (stepSize * Math.fround(mi)) / (Math.sqrt(Math.fround(vi)) + epsHat);
  }
}
