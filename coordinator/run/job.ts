/**
 * What a running job (an RL run, an SFT warm-up, an RM pretraining) reports and is given: its status (step,
 * policy/RM versions, staleness, sample accounting), a stream of metric points, and a stop signal. The run manager
 * and the control API read these; the jobs themselves never know about HTTP.
 */
import type { Cluster } from "../../actors/mod.ts";
import type { AccountingSnapshot, AttestationSnapshot, Verdict } from "../../rl/mod.ts";

/** Life of a run: `interrupted` means the coordinator driving it died; `coop runs resume ID` continues it. */
export type RunState = "running" | "finished" | "stopped" | "failed" | "interrupted";

/** Every {@link RunState}. */
export const RUN_STATES: readonly RunState[] = ["running", "finished", "stopped", "failed", "interrupted"];

/** One metric record: the step it belongs to plus named numbers (NaN/absent = not measured this step). */
export interface MetricPoint {
  step: number;
  /** Seconds since the run started. */
  time: number;
  [name: string]: number;
}

/** Everything `GET /v1/runs/:id` shows. */
export interface RunStatus {
  id: string;
  name: string;
  kind: "rl" | "sft" | "rm-pretrain";
  mode?: string;
  state: RunState;
  /** Steps finished. */
  step: number;
  steps: number;
  policyVersion: number;
  rmVersion: number;
  staleness: { max: number; last: number; highest: number };
  accounting: AccountingSnapshot;
  /** Samples checked against the weight digests the run published (rl/attestation.ts). */
  attestation?: AttestationSnapshot;
  /** Directory of the latest checkpoint, if any. */
  checkpoint?: string;
  /** Set on an interrupted run: the command that continues it (from `checkpoint` when there is one). */
  resumeCommand?: string;
  error?: { name: string; message: string };
  startedAt: string;
  finishedAt?: string;
  /** Notes for people, such as skipped dataset lines. */
  notes: string[];
  /** RL runs: the last step's greedy held-out answers (the demo's results show them). */
  examples?: HeldOutExample[];
  /** RL runs: recent rollouts the RM rewarded (σ > ½) and the verifier rejected (coordinator/run/hacking.ts). */
  exploits?: Exploit[];
  /** RL runs: the reward-hacking monitor at the last step (see rl/monitor.ts). */
  monitor?: MonitorStatus;
}

/** A run event: a new metric point, or a status change. */
export type RunEvent = { type: "metric"; point: MetricPoint } | { type: "status"; status: RunStatus };

/** The reward-hacking monitor's state in a run's status. */
export interface MonitorStatus {
  /** Whether the last step raised `hacking_alarm`. */
  alarm: boolean;
  /** Steps that raised it so far. */
  alarms: number;
  /** RM–verifier agreement on the last step's fresh rollouts. */
  agreement: number;
  rmRewardTrend: number;
  verifierAccuracyTrend: number;
  /** The drift test's readings: change of mean σ(RM) − verifier accuracy, and of accuracy, from the first window. */
  rmOverpayDrift?: number;
  verifierAccuracyDrift?: number;
  lastAgreeingRmVersion?: number;
  /** Cooper's responses so far (`monitor.response`). */
  rollbacks: number;
  frozenSteps: number;
}

/** What a job function gets. */
export interface JobContext {
  cluster: Cluster;
  id: string;
  /** Aborted when someone asks the run to stop; the job finishes its current step, checkpoints and returns. */
  signal: AbortSignal;
  /** Checkpoint dir to resume from. */
  resume?: string;
  status: RunStatus;
  /** Records a metric point (also updates listeners). */
  metric(point: Omit<MetricPoint, "time">): void;
  /** Called after `status` fields changed. */
  changed(): void;
}

/** An empty accounting snapshot. */
export function emptyAccounting(): AccountingSnapshot {
  return { generated: 0, scored: 0, trained: 0, droppedStale: 0, skipped: 0, awaitingScore: 0, awaitingTraining: 0 };
}

/**
 * One greedy held-out answer with the versions that produced and scored it: the table says how often the policy is
 * right, these say what it writes when it is not (and whether the RM notices).
 */
export interface HeldOutExample {
  policyVersion: number;
  rmVersion: number;
  question: string;
  reference: string;
  response: string;
  verdict: Verdict;
  /** σ(RM) of the answer. */
  rmReward: number;
}

/** A training rollout the RM rewarded and the verifier rejected, with the step that trained on it. */
export interface Exploit extends HeldOutExample {
  step: number;
}

/** A held-out example as one line of text (the demo's results and `coop runs show`). */
export function formatExample(e: HeldOutExample): string {
  return `(policy v${e.policyVersion}, RM v${e.rmVersion}): ${JSON.stringify(e.question)} ` +
    `(reference ${e.reference}) -> ${JSON.stringify(e.response)}: ${e.verdict}, σ(RM) ${e.rmReward.toFixed(3)}`;
}

/** True when `done` steps of `total` end an `interval` (0 = never), or end the job: when to evaluate or checkpoint. */
export function isDue(interval: number, done: number, total: number): boolean {
  return (interval > 0 && done % interval === 0) || done === total;
}
