/**
 * The GRPO and reward-model losses as compositions on the engine's graph builder, so their gradients come from
 * the primitive rules. Each mirrors a plain-number reference in `grpo.ts` / `pairs.ts` (tested against them through
 * a real onnxruntime session); the learners feed these the log-probs from `engine/score`.
 *
 * Shapes: per-token tensors are float32 [B, T] with a 0/1 float mask; advantages are [B] (one per sequence).
 */

import { nn, op, type Sym } from "../engine/graph/mod.ts";
import { GRPO_DEFAULTS, GrpoInputError, type GrpoLossOptions, type PolicyLossOptions } from "./grpo.ts";

/** The PPO loss node and its diagnostics (scalars). */
export interface PolicyLossGraph {
  loss: Sym;
  clipFraction: Sym;
  clipFractionLower: Sym;
  approxKl: Sym;
}

/** The GRPO loss node and its parts (scalars). */
export interface GrpoLossGraph extends PolicyLossGraph {
  policyLoss: Sym;
  kl: Sym;
}

/** Graph inputs of the GRPO loss. */
export interface GrpoLossSyms {
  logProbs: Sym;
  oldLogProbs: Sym;
  refLogProbs: Sym;
  advantages: Sym;
  mask: Sym;
}

function clamp(x: Sym, lo: number, hi: number): Sym {
  return op.max(op.min(x, hi), lo);
}

/**
 * Σ(x·mask)/(Σmask + 1e-8) over all elements, as `tokenMean`. Masked-out entries are selected away with `where`
 * rather than multiplied by 0, so a NaN/Inf at a pad cannot leak into the value or the gradient.
 */
export function tokenMeanGraph(x: Sym, mask: Sym): Sym {
  const all = x.shape.map((_, i) => i);
  const kept = op.where(op.greater(mask, 0), op.mul(x, mask), 0);
  return op.div(op.reduceSum(kept, all), op.add(op.reduceSum(mask, all), 1e-8));
}

/** Dual-clip PPO loss, token-mean; the graph form of `ppoClipLoss`. */
export function ppoClipLossGraph(
  logProbs: Sym,
  oldLogProbs: Sym,
  advantages: Sym,
  mask: Sym,
  options: PolicyLossOptions = {},
): PolicyLossGraph {
  const eps = options.clipRatio ?? GRPO_DEFAULTS.clipRatio;
  const c = options.clipRatioC ?? GRPO_DEFAULTS.clipRatioC;
  if (!(c > 1)) throw new GrpoInputError(`Invalid dual-clip ratio ${c}: must be greater than 1`);
  const a = nn.unsqueeze(advantages, -1); // [B, 1]: one outcome advantage broadcast over the sequence's tokens
  const logRatio = clamp(op.sub(logProbs, oldLogProbs), -20, 20);
  const ratio = op.exp(logRatio);
  const l1 = op.mul(op.neg(a), ratio);
  const l2 = op.mul(op.neg(a), clamp(ratio, 1 - eps, 1 + eps));
  // Inside the clip range l1 = l2 and the Max rule sends the gradient to l1, the unclipped term, as PPO intends.
  const clip1 = op.max(l1, l2);
  const l3 = op.mul(op.neg(a), c);
  const negative = op.less(a, 0);
  const losses = op.where(negative, op.min(l3, clip1), clip1);
  const asFloat = (b: Sym) => op.cast(b, "float32");
  const stop = op.stopGradient;
  return {
    loss: tokenMeanGraph(losses, mask),
    clipFraction: stop(tokenMeanGraph(asFloat(op.greater(l2, l1)), mask)),
    clipFractionLower: stop(tokenMeanGraph(asFloat(op.and(negative, op.greater(clip1, l3))), mask)),
    approxKl: stop(tokenMeanGraph(op.neg(logRatio), mask)),
  };
}

/** Per-token k3 KL estimate [B, T]: exp(d) − d − 1 with d = clamp(ref − logp, ±20), clamped to [−10, 10]. */
export function k3KlGraph(logProbs: Sym, refLogProbs: Sym): Sym {
  const d = clamp(op.sub(refLogProbs, logProbs), -20, 20);
  return clamp(op.sub(op.sub(op.exp(d), d), 1), -10, 10);
}

/** GRPO loss = dual-clip PPO + klCoef · token-mean k3 KL; the graph form of `grpoLoss`. */
export function grpoLossGraph(inputs: GrpoLossSyms, options: GrpoLossOptions = {}): GrpoLossGraph {
  const policy = ppoClipLossGraph(inputs.logProbs, inputs.oldLogProbs, inputs.advantages, inputs.mask, options);
  const kl = tokenMeanGraph(k3KlGraph(inputs.logProbs, inputs.refLogProbs), inputs.mask);
  const coef = options.klCoef ?? GRPO_DEFAULTS.klCoef;
  const loss = coef === 0 ? policy.loss : op.add(policy.loss, op.mul(kl, coef));
  return { ...policy, policyLoss: policy.loss, kl, loss };
}

/**
 * softplus(x) = log(e^x + e^0) as a log-sum-exp over [x, 0]: stable for any |x|, and smooth at 0 where a
 * relu/abs formulation would put a kink exactly where a fresh reward model's margins start.
 */
export function softplusGraph(x: Sym): Sym {
  const col = nn.unsqueeze(x, -1);
  const zero = op.expand(x.graph.scalar(0, x.dtype), col.shape);
  return nn.logSumExp(op.concat([col, zero], -1), -1);
}

/** Pairwise RM loss mean(−log σ(s_pos − s_neg)) over pairs with mask 1 (float [N]); 0 when none. */
export function pairwiseLossGraph(positiveScores: Sym, negativeScores: Sym, mask?: Sym): Sym {
  const nll = softplusGraph(op.sub(negativeScores, positiveScores));
  return mask ? nn.maskedMean(nll, mask) : op.reduceMean(nll, nll.shape.map((_, i) => i));
}

/** VerifyRM BCE on logits: mean(softplus(s) − y·s) over entries with mask 1; labels float in [0, 1]. */
export function bceLossGraph(logits: Sym, labels: Sym, mask?: Sym): Sym {
  const per = op.sub(softplusGraph(logits), op.mul(labels, logits));
  return mask ? nn.maskedMean(per, mask) : op.reduceMean(per, per.shape.map((_, i) => i));
}
