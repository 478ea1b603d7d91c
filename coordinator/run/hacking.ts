/**
 * The reward-hacking gap for the dashboard, Prometheus and TensorBoard: what the reward model pays (mean σ(RM) of
 * the step's samples) minus what the verifier says (their accuracy). A policy that learns to please a frozen RM
 * raises the first while the second stalls or falls. The alarm itself (`hacking_alarm`) is the driver's: the
 * monitor in rl/monitor.ts, which compares the two trends over a window and can make cooper respond.
 */
import { sigmoid, type Verdict } from "../../rl/mod.ts";
import type { Exploit, MetricPoint } from "./job.ts";

/** `point` plus `hacking_gap` when it has both RM reward and accuracy; else unchanged. */
export function withHackingGap(point: MetricPoint): MetricPoint {
  const rm = point.rm_reward_mean;
  const accuracy = point.train_accuracy;
  if (!Number.isFinite(rm) || !Number.isFinite(accuracy)) return point;
  return { ...point, hacking_gap: rm! - accuracy! };
}

/** The exploits a run keeps in its status (the most recent steps that had one). */
export const EXPLOITS_KEPT = 8;

/** A step's batch as far as the exploit record reads it. */
interface ScoredSamples {
  step: number;
  version: number;
  rmVersion: number;
  samples: readonly { question: string; answer: string; text: string }[];
  verdicts: readonly Verdict[];
  rmScores: readonly number[];
}

/**
 * `kept` plus this step's exploit, if it had one: the rollout the RM paid most for (σ(RM) > ½) among those the
 * verifier rejected. These are the concrete answers behind a static RM's falling held-out accuracy; the last
 * {@link EXPLOITS_KEPT} steps that had one are kept.
 */
export function recordExploit(kept: readonly Exploit[], batch: ScoredSamples): Exploit[] {
  let best = -1;
  batch.samples.forEach((_, i) => {
    const score = batch.rmScores[i]!;
    if (batch.verdicts[i] === "correct" || !(score > 0)) return;
    if (best < 0 || score > batch.rmScores[best]!) best = i;
  });
  if (best < 0) return [...kept];
  const s = batch.samples[best]!;
  const exploit: Exploit = {
    step: batch.step + 1,
    policyVersion: batch.version,
    rmVersion: batch.rmVersion,
    question: s.question,
    reference: s.answer,
    response: s.text,
    verdict: batch.verdicts[best]!,
    rmReward: sigmoid(batch.rmScores[best]!),
  };
  return [...kept, exploit].slice(-EXPLOITS_KEPT);
}
