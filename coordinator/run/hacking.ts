/**
 * The reward-hacking gap for the dashboard, Prometheus and TensorBoard: what the reward model pays (mean σ(RM) of
 * the step's samples) minus what the verifier says (their accuracy). A policy that learns to please a frozen RM
 * raises the first while the second stalls or falls. The alarm itself (`hacking_alarm`) is the driver's: the
 * monitor in rl/monitor.ts, which compares the two trends over a window and can make cooper respond.
 */
import type { MetricPoint } from "./job.ts";

/** `point` plus `hacking_gap` when it has both RM reward and accuracy; else unchanged. */
export function withHackingGap(point: MetricPoint): MetricPoint {
  const rm = point.rm_reward_mean;
  const accuracy = point.train_accuracy;
  if (!Number.isFinite(rm) || !Number.isFinite(accuracy)) return point;
  return { ...point, hacking_gap: rm! - accuracy! };
}
