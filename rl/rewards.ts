/**
 * The policy reward per mode. `rule`: 1 when the verifier says correct, else 0. `static-rm` and `cooper`: the RM's
 * probability σ(score) with no rule term, as in the paper (the modes differ only in whether the RM is updated), or
 * its verdict, 1 when σ(score) > ½ (`grpo.rmReward: verdict`).
 */

import type { Rng } from "../shared/mod.ts";
import type { RewardMode, RunConfig } from "./config.ts";
import { sigmoid } from "./pairs.ts";
import type { Verdict } from "./verify/mod.ts";

/** One scored sample: its verdict, and its RM score (logit) when an RM scored it. */
export interface ScoredSample {
  verdict: Verdict;
  rmScore?: number;
}

/** Rewards, plus which samples had an unusable RM score. */
export interface RewardBatch {
  rewards: number[];
  /** Indices whose RM score was missing or non-finite; their reward is 0 so the step can go on, and they are counted. */
  invalid: number[];
}

/** How an RM score becomes a reward (`grpo.rmReward`). */
export type RmRewardShape = RunConfig["grpo"]["rmReward"];

/** Computes policy rewards for a reward mode; never returns a non-finite reward. */
export function computeRewards(
  mode: RewardMode,
  samples: readonly ScoredSample[],
  shape: RmRewardShape = "probability",
): RewardBatch {
  const invalid: number[] = [];
  const rewards = samples.map((sample, i) => {
    if (mode === "rule") return sample.verdict === "correct" ? 1 : 0;
    const score = sample.rmScore;
    if (score === undefined || !Number.isFinite(score)) {
      invalid.push(i);
      return 0;
    }
    return shape === "verdict" ? (score > 0 ? 1 : 0) : sigmoid(score);
  });
  return { rewards, invalid };
}

/**
 * The `grpo.verdictNoise` control: each 0/1 rule reward flipped with probability `p`, one draw per sample in order.
 * Returns a new array; `p = 0` returns the rewards unchanged and draws nothing.
 */
export function flipRewards(rewards: readonly number[], p: number, rng: Rng): number[] {
  if (p === 0) return [...rewards];
  return rewards.map((r) => (rng.next() < p ? 1 - r : r));
}
