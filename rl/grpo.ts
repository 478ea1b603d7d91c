/**
 * GRPO as plain numbers: group-normalised advantages, the dual-clip PPO loss with token-mean aggregation, and the
 * low-variance "k3" KL estimator. These follow verl's `core_algos.py` (the Cooper reference implementation runs
 * on verl) line for line, and serve as the reference the engine's graph version (`losses.ts`) is checked against.
 *
 * Shapes: per-token inputs are `[batch][responseLength]` arrays with a 0/1 `mask` marking real response tokens;
 * advantages are one number per sequence (outcome reward), broadcast over its tokens as verl does.
 */
import { CoopError } from "../shared/mod.ts";

/** Defaults of the Cooper paper / verl GRPO recipe. */
export const GRPO_DEFAULTS = {
  /** Added to the group std: (r − mean)/(std + ε). */
  epsilon: 1e-6,
  clipRatio: 0.2,
  /** Dual-clip bound c: for negative advantages the loss is capped at −A·c (Ye et al. 2019). */
  clipRatioC: 3.0,
  klCoef: 0.001,
} as const;

/** Raised for inputs GRPO cannot use: non-finite rewards, ragged shapes, bad options. */
export class GrpoInputError extends CoopError {
  override name = "GrpoInputError";
}

/** Options for {@link groupAdvantages}. */
export interface AdvantageOptions {
  /** Default 1e-6. */
  epsilon?: number;
  /** Divide by the group std (GRPO); false gives Dr. GRPO's mean-only centring. Default true. */
  normalizeByStd?: boolean;
}

/**
 * Group-relative advantages (r − mean_g)/(std_g + ε), where g is the sample's prompt group.
 *
 * std is the unbiased sample std (n − 1 denominator), matching verl's `torch.std`. A group of one sample gets
 * mean 0 and std 1, again as verl does, so its advantage is r/(1 + ε). A group whose rewards are all equal gets
 * advantage 0 for every member (no learning signal), which is why GRPO needs n ≥ 2 diverse samples.
 */
export function groupAdvantages(
  rewards: readonly number[],
  groupIds: readonly (string | number)[],
  options: AdvantageOptions = {},
): number[] {
  const epsilon = options.epsilon ?? GRPO_DEFAULTS.epsilon;
  const byStd = options.normalizeByStd ?? true;
  if (rewards.length !== groupIds.length) {
    throw new GrpoInputError(`Cannot compute advantages: ${rewards.length} rewards but ${groupIds.length} group ids`);
  }
  const groups = new Map<string | number, number[]>();
  rewards.forEach((reward, i) => {
    if (!Number.isFinite(reward)) {
      throw new GrpoInputError(`Cannot compute advantages: reward ${i} is ${reward}, expected a finite number`);
    }
    const members = groups.get(groupIds[i]!) ?? [];
    members.push(reward);
    groups.set(groupIds[i]!, members);
  });
  const stats = new Map<string | number, { mean: number; std: number }>();
  for (const [id, members] of groups) stats.set(id, members.length === 1 ? { mean: 0, std: 1 } : meanStd(members));
  return rewards.map((reward, i) => {
    const { mean, std } = stats.get(groupIds[i]!)!;
    return byStd ? (reward - mean) / (std + epsilon) : reward - mean;
  });
}

/** {@link groupAdvantages} for the common layout: consecutive runs of `groupSize` samples share a prompt. */
export function groupAdvantagesBySize(
  rewards: readonly number[],
  groupSize: number,
  options: AdvantageOptions = {},
): number[] {
  if (!Number.isInteger(groupSize) || groupSize < 1 || rewards.length % groupSize !== 0) {
    throw new GrpoInputError(
      `Cannot compute advantages: ${rewards.length} rewards do not split into groups of ${groupSize}`,
    );
  }
  return groupAdvantages(rewards, rewards.map((_, i) => Math.floor(i / groupSize)), options);
}

/** Mean and unbiased (n − 1) standard deviation. */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, std: Number.NaN }; // torch.std of one element is NaN too
  const variance = values.reduce((acc, v) => acc + (v - mean) ** 2, 0) / (n - 1);
  return { mean, std: Math.sqrt(variance) };
}

/** Σ(values·mask)/(Σmask + 1e-8): verl's masked mean, the "token-mean" loss aggregation. */
export function tokenMean(values: readonly (readonly number[])[], mask: readonly (readonly number[])[]): number {
  let sum = 0;
  let count = 0;
  values.forEach((row, b) =>
    row.forEach((v, t) => {
      const m = mask[b]![t]!;
      // A masked-out position never contributes, even if its value is NaN/Inf (padding garbage).
      if (m !== 0) sum += v * m;
      count += m;
    })
  );
  return sum / (count + 1e-8);
}

/** Options for {@link ppoClipLoss}. */
export interface PolicyLossOptions {
  /** ε of the clip range [1 − ε, 1 + ε]. Default 0.2. */
  clipRatio?: number;
  /** Dual-clip c (> 1). Default 3. */
  clipRatioC?: number;
}

/** Inputs of the PPO-clip loss, per token. */
export interface PolicyLossInput {
  logProbs: readonly (readonly number[])[];
  oldLogProbs: readonly (readonly number[])[];
  /** One advantage per sequence. */
  advantages: readonly number[];
  mask: readonly (readonly number[])[];
}

/** The loss and verl's diagnostics. */
export interface PolicyLossResult {
  loss: number;
  /** Token fraction where the clipped term was active. */
  clipFraction: number;
  /** Token fraction where the dual clip (negative advantages) capped the loss. */
  clipFractionLower: number;
  /** Token-mean of old − new log-prob (a first-order KL from the behaviour policy). */
  approxKl: number;
}

/**
 * Dual-clip PPO loss, token-mean. Per token, with ratio r = exp(clamp(logp − old, ±20)):
 * l = max(−A·r, −A·clip(r, 1−ε, 1+ε)); for A < 0 additionally l = min(l, −A·c).
 */
export function ppoClipLoss(input: PolicyLossInput, options: PolicyLossOptions = {}): PolicyLossResult {
  const eps = options.clipRatio ?? GRPO_DEFAULTS.clipRatio;
  const c = options.clipRatioC ?? GRPO_DEFAULTS.clipRatioC;
  if (!(c > 1)) throw new GrpoInputError(`Invalid dual-clip ratio ${c}: must be greater than 1`);
  checkShapes("ppoClipLoss", input.mask, { logProbs: input.logProbs, oldLogProbs: input.oldLogProbs });
  if (input.advantages.length !== input.mask.length) {
    throw new GrpoInputError(
      `Cannot compute ppoClipLoss: ${input.advantages.length} advantages for ${input.mask.length} sequences`,
    );
  }
  const losses: number[][] = [];
  const clipped: number[][] = [];
  const clippedLower: number[][] = [];
  const negKl: number[][] = [];
  input.logProbs.forEach((row, b) => {
    const a = input.advantages[b]!;
    losses.push([]);
    clipped.push([]);
    clippedLower.push([]);
    negKl.push([]);
    row.forEach((logp, t) => {
      const logRatio = clamp(logp - input.oldLogProbs[b]![t]!, -20, 20);
      const ratio = Math.exp(logRatio);
      const l1 = -a * ratio;
      const l2 = -a * clamp(ratio, 1 - eps, 1 + eps);
      const clip1 = Math.max(l1, l2);
      const l3 = -a * c;
      losses[b]!.push(a < 0 ? Math.min(l3, clip1) : clip1);
      clipped[b]!.push(l2 > l1 ? 1 : 0);
      clippedLower[b]!.push(a < 0 && clip1 > l3 ? 1 : 0);
      negKl[b]!.push(-logRatio);
    });
  });
  return {
    loss: tokenMean(losses, input.mask),
    clipFraction: tokenMean(clipped, input.mask),
    clipFractionLower: tokenMean(clippedLower, input.mask),
    approxKl: tokenMean(negKl, input.mask),
  };
}

/**
 * The k3 estimator of KL(π‖π_ref) for one token (Schulman 2020): with d = clamp(ref − logp, ±20),
 * k3 = exp(d) − d − 1, clamped to [−10, 10] as verl's `low_var_kl`. Non-negative and unbiased for the KL.
 */
export function k3Kl(logProb: number, refLogProb: number): number {
  const d = clamp(refLogProb - logProb, -20, 20);
  return clamp(Math.exp(d) - d - 1, -10, 10);
}

/** Token-mean of {@link k3Kl} over the response mask. */
export function klLoss(
  logProbs: readonly (readonly number[])[],
  refLogProbs: readonly (readonly number[])[],
  mask: readonly (readonly number[])[],
): number {
  checkShapes("klLoss", mask, { logProbs, refLogProbs });
  return tokenMean(logProbs.map((row, b) => row.map((lp, t) => k3Kl(lp, refLogProbs[b]![t]!))), mask);
}

/** Inputs of the full GRPO objective. */
export interface GrpoLossInput extends PolicyLossInput {
  refLogProbs: readonly (readonly number[])[];
}

/** Options for {@link grpoLoss}. */
export interface GrpoLossOptions extends PolicyLossOptions {
  /** Default 0.001. */
  klCoef?: number;
}

/** The GRPO objective and its parts. */
export interface GrpoLossResult extends PolicyLossResult {
  policyLoss: number;
  kl: number;
}

/** GRPO loss = PPO dual-clip loss + klCoef · k3-KL to the reference, both token-mean (verl `use_kl_loss`). */
export function grpoLoss(input: GrpoLossInput, options: GrpoLossOptions = {}): GrpoLossResult {
  const policy = ppoClipLoss(input, options);
  const kl = klLoss(input.logProbs, input.refLogProbs, input.mask);
  const coef = options.klCoef ?? GRPO_DEFAULTS.klCoef;
  return { ...policy, policyLoss: policy.loss, kl, loss: policy.loss + coef * kl };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function checkShapes(
  what: string,
  mask: readonly (readonly number[])[],
  others: Record<string, readonly (readonly number[])[]>,
): void {
  for (const [name, rows] of Object.entries(others)) {
    const ragged = rows.length !== mask.length || rows.some((row, b) => row.length !== mask[b]!.length);
    if (ragged) throw new GrpoInputError(`Cannot compute ${what}: "${name}" does not match the shape of "mask"`);
  }
}
