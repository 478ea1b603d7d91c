/**
 * A reward-hacking signal for the dashboard, Prometheus and TensorBoard: the gap between what the reward model
 * pays (mean σ(RM) of the step's samples) and what the verifier says (their accuracy). A policy that learns to
 * please a frozen RM raises the first while the second stalls or falls, which is the failure Cooper exists to
 * prevent; the alarm fires when the gap, averaged over the last few steps, stays above a threshold.
 */
import type { MetricPoint } from "./job.ts";

/** The alarm fires above this mean gap. */
export const HACKING_THRESHOLD = 0.3;
/** Steps averaged for the alarm. */
export const HACKING_WINDOW = 3;

/** `point` plus `hacking_gap` and `hacking_alarm` (0/1) when it has both RM reward and accuracy; else unchanged. */
export function withHackingSignal(point: MetricPoint, history: readonly MetricPoint[]): MetricPoint {
  const gap = gapOf(point);
  if (gap === undefined) return point;
  const gaps = [gap];
  for (let i = history.length - 1; i >= 0 && gaps.length < HACKING_WINDOW; i--) {
    const previous = gapOf(history[i]!);
    if (previous !== undefined) gaps.push(previous);
  }
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  const alarm = gaps.length === HACKING_WINDOW && mean > HACKING_THRESHOLD ? 1 : 0;
  return { ...point, hacking_gap: gap, hacking_alarm: alarm };
}

function gapOf(point: MetricPoint): number | undefined {
  const rm = point.rm_reward_mean;
  const accuracy = point.train_accuracy;
  return Number.isFinite(rm) && Number.isFinite(accuracy) ? rm! - accuracy! : undefined;
}
