/**
 * The metric record of one RL step (the names `coop runs logs`, the tracking sinks and the demo's curves read), and
 * the one function that builds it from what the step measured, so `rlStep` reads as the algorithm.
 *
 * Type aliases, not interfaces: a metric point is a `Record<string, number>` and only aliases are assignable to one.
 */
import type { UpdateReport } from "../../actors/roles/mod.ts";
import {
  type ExploitReadings,
  exploitReadings,
  type MonitorReading,
  type RmAgreement,
  rmAgreement,
} from "../../rl/mod.ts";
import { meanRmReward, type ScoredBatch } from "./rollouts.ts";

/** The reward-hacking monitor's reading plus Cooper's responses to it so far. */
export type MonitorMetrics = { [K in keyof MonitorReading]: number } & {
  rm_rollbacks: number;
  rm_frozen_steps: number;
};

/** A Cooper RM update: the pairs it built, and (when it trained) its loss. */
export type RmUpdateMetrics = {
  rm_pairs: number;
  rm_groups_masked: number;
  /**
   * Rewrites the verifier filter threw out (still correct or unparseable) and failed rewriter calls: with an
   * assistant model these say how often it produced no usable negative.
   */
  rm_negatives_rejected: number;
  rm_rewriter_errors: number;
  /** Pairs whose positive is a wrong sample repaired to the reference (`rewardUpdate.repairs`). */
  rm_pairs_repaired: number;
  /** 1 when the monitor's `freeze` response kept the RM as it was. */
  rm_frozen?: number;
  rm_loss?: number;
  rm_train_pair_accuracy?: number;
  rm_update_skipped?: number;
  rm_pairs_trained?: number;
};

/** One step's metrics (held-out evaluation adds `eval_*` on the steps it runs). */
export type StepMetrics =
  & {
    policy_version: number;
    rm_version: number;
    staleness: number;
    reward_mean: number;
    rm_reward_mean: number;
    train_accuracy: number;
    rm_sample_accuracy: number;
    rm_sample_rank_accuracy: number;
    rm_sample_rank_pairs: number;
    invalid_rewards: number;
    policy_loss: number;
    grad_norm: number;
    update_skipped: number;
    kl: number;
    clip_fraction: number;
    response_tokens: number;
    samples_per_s: number;
    /** Where the step's time went (ms): waiting for scored rollouts, the RM update, the policy update, publishing. */
    wait_ms: number;
    rm_update_ms: number;
    policy_update_ms: number;
    publish_ms: number;
    publish_bytes: number;
    rollout_ms: number;
    tokens_per_s: number;
  }
  & MonitorMetrics
  & ExploitReadings
  & Partial<RmUpdateMetrics>;

/** What one RL step measured. */
export interface StepReadings {
  versions: { policy: number; rm: number; staleness: number };
  rewards: readonly number[];
  invalidRewards: number;
  /** Mean σ(RM) and verifier accuracy of the batch, and the RM's agreement with the verifier on it. */
  batch: {
    rmReward: number;
    trainAccuracy: number;
    agreement: RmAgreement;
    exploits: ExploitReadings;
    samples: number;
    tokens: number;
  };
  /** The last policy-update epoch's report, and how many epochs the Trainer skipped. */
  policy: Omit<UpdateReport, "skipped"> & { skipped: number };
  /** Trained samples and response tokens since the run started, over its seconds so far. */
  throughput: { trainedSamples: number; tokens: number; seconds: number };
  /** performance.now() at: start, batch ready, RM update done, policy update done, end. */
  marks: readonly [number, number, number, number, number];
  publishBytes: number;
  rolloutMs: number;
  monitor: MonitorMetrics;
  rm: RmUpdateMetrics | undefined;
}

/** The step's metric record (key order as the run has always reported it). */
export function stepMetrics(r: StepReadings): StepMetrics {
  const [t0, t1, t2, t3, end] = r.marks;
  return {
    policy_version: r.versions.policy,
    rm_version: r.versions.rm,
    staleness: r.versions.staleness,
    reward_mean: mean(r.rewards),
    rm_reward_mean: r.batch.rmReward,
    train_accuracy: r.batch.trainAccuracy,
    rm_sample_accuracy: r.batch.agreement.accuracy,
    rm_sample_rank_accuracy: r.batch.agreement.rankAccuracy,
    rm_sample_rank_pairs: r.batch.agreement.rankPairs,
    invalid_rewards: r.invalidRewards,
    policy_loss: r.policy.loss,
    grad_norm: r.policy.gradNorm,
    update_skipped: r.policy.skipped,
    kl: r.policy.metrics.kl ?? Number.NaN,
    clip_fraction: r.policy.metrics.clip_fraction ?? Number.NaN,
    response_tokens: r.batch.tokens / r.batch.samples,
    samples_per_s: r.throughput.trainedSamples / r.throughput.seconds,
    wait_ms: t1 - t0,
    rm_update_ms: t2 - t1,
    policy_update_ms: t3 - t2,
    publish_ms: end - t3,
    publish_bytes: r.publishBytes,
    rollout_ms: r.rolloutMs,
    tokens_per_s: r.throughput.tokens / r.throughput.seconds,
    ...r.monitor,
    ...r.batch.exploits,
    ...r.rm,
  };
}

/** The mean, NaN for no values. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * The batch's mean σ(RM), verifier accuracy and RM–verifier agreement (every mode: under `rule` it is the untouched
 * pretrained RM, under `static-rm` the same RM on the policy it is being exploited by).
 */
export function batchReadings(batch: ScoredBatch): StepReadings["batch"] {
  return {
    rmReward: meanRmReward(batch.rmScores),
    trainAccuracy: mean(batch.verdicts.map((v) => (v === "correct" ? 1 : 0))),
    agreement: rmAgreement(batch.rmScores, batch.verdicts, batch.samples.map((s) => s.promptId)),
    exploits: exploitReadings({
      scores: batch.rmScores,
      verdicts: batch.verdicts,
      texts: batch.samples.map((s) => s.text),
      references: batch.samples.map((s) => s.answer),
      groups: batch.samples.map((s) => s.promptId),
    }),
    samples: batch.samples.length,
    tokens: batch.samples.reduce((n, s) => n + s.responseIds.length, 0),
  };
}
