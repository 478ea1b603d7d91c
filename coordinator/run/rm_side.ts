/**
 * The reward model's side of a GRPO run: Cooper's RM update (verified pairs, the replay window, the optional
 * pointwise anchor, k epochs) and the reward-hacking monitor with Cooper's responses to it (`freeze`, `rollback`,
 * `rollback-once`).
 * The run driver owns the versions and the publishing; this module decides what the RM learns and when it may not.
 */
import { mixSeed } from "../../shared/mod.ts";
import { formatRmInput, HackingMonitor, type RunConfig, type SkipGuard } from "../../rl/mod.ts";
import type { JobContext } from "./job.ts";
import type { RunRoles } from "./roles.ts";
import { promptGroups, type ScoredBatch } from "./rollouts.ts";
import type { MonitorMetrics, RmUpdateMetrics, StepReadings } from "./step_metrics.ts";

/** What the RM side needs of the run driver. */
export interface RmHost {
  readonly ctx: JobContext;
  readonly config: RunConfig;
  readonly roles: RunRoles;
  readonly skips: { rm: SkipGuard };
  /** The RM version the learner holds; bumped here after an update or a roll-back. */
  rmVersion: number;
  /** How many versions behind the newest a launched batch may still fetch. */
  readonly window: number;
  publishRm(): Promise<void>;
}

/** Cooper's RM update and the hacking monitor, for one run. */
export class RewardModelSide {
  readonly monitor: HackingMonitor;
  /** Verified pairs of the most recent steps (`rewardUpdate.replaySteps`), oldest first. */
  readonly replay: { positive: string; negative: string }[][] = [];
  readonly #host: RmHost;
  #alarm = false;
  #rollbacks = 0;
  #frozenSteps = 0;

  constructor(host: RmHost) {
    this.#host = host;
    this.monitor = new HackingMonitor(host.config.monitor);
  }

  /**
   * The reward-hacking monitor's reading for this step, and (cooper, behind `monitor.response`) its response:
   * `freeze` keeps the RM as it is while the alarm is on; `rollback`, on an alarm, restores the last RM version that
   * agreed with the verifier on its own batch (published as a new version, so every cache reloads it), on every
   * alarmed step; `rollback-once` does that restore only at the onset of an alarm episode and then lets the RM
   * train on, so the repaired pairs can move it away from what the policy learnt to exploit instead of pinning it
   * to an old version for as long as the alarm lasts (seed 3's 67 alarms, docs/rl.md). A run resumed from a
   * checkpoint starts outside an episode: its first alarmed step may restore once more.
   */
  async watch(step: number, scoredBy: number, seen: StepReadings["batch"]): Promise<MonitorMetrics> {
    const agreement = seen.agreement.accuracy;
    const reading = this.monitor.observe({
      step: step + 1,
      rmVersion: scoredBy,
      rmReward: seen.rmReward,
      verifierAccuracy: seen.trainAccuracy,
      agreement,
    });
    const onset = reading.hacking_alarm === 1 && !this.#alarm;
    this.#alarm = reading.hacking_alarm === 1;
    const back = this.monitor.lastAgreeingRmVersion;
    const response = this.#host.config.monitor.response;
    const restore = response === "rollback" ? this.#alarm : response === "rollback-once" && onset;
    if (
      this.#host.config.mode === "cooper" && restore && back !== undefined && back < this.#host.rmVersion
    ) {
      if (await this.#host.roles.rewardLearner.rollback(back)) {
        this.#rollbacks++;
        this.#host.rmVersion++;
        await this.#host.roles.rewardLearner.snapshot(this.#host.rmVersion, this.snapshotsKept);
        await this.#host.publishRm();
      }
    }
    this.#host.ctx.status.monitor = {
      alarm: this.#alarm,
      alarms: this.monitor.alarms,
      agreement,
      rmRewardTrend: reading.rm_reward_trend,
      verifierAccuracyTrend: reading.verifier_accuracy_trend,
      rmOverpayDrift: reading.rm_overpay_drift,
      verifierAccuracyDrift: reading.verifier_accuracy_drift,
      lastAgreeingRmVersion: back,
      rollbacks: this.#rollbacks,
      frozenSteps: this.#frozenSteps,
    };
    return { ...reading, rm_rollbacks: this.#rollbacks, rm_frozen_steps: this.#frozenSteps };
  }

  /** RM versions a roll-back can reach: the monitor's window plus the versions in flight. */
  get snapshotsKept(): number {
    // Only a roll-back reads them, and each is a full copy of the RM and its moments (6 GiB at 0.5B).
    const response = this.#host.config.monitor.response;
    if (response !== "rollback" && response !== "rollback-once") return 0;
    return this.#host.config.monitor.window + this.#host.window;
  }

  async update(step: number, batch: ScoredBatch): Promise<RmUpdateMetrics> {
    const update = this.#host.config.rewardUpdate;
    const pairs = await this.#host.roles.negatives.pairs(
      promptGroups(batch),
      mixSeed(this.#host.config.seed, step, 7),
      {
        positivesPerGroup: update.positivesPerGroup,
        negativesPerPositive: update.negativesPerPositive,
        negatives: update.negatives,
        repairs: update.repairs,
      },
    );
    const out: RmUpdateMetrics = {
      rm_pairs: pairs.pairs.length,
      rm_groups_masked: pairs.counts.groups - pairs.counts.valid,
      rm_negatives_rejected: pairs.counts.rejectedNegatives,
      rm_rewriter_errors: pairs.counts.synthesizerErrors,
      rm_pairs_repaired: pairs.counts.repaired,
    };
    const fresh = pairs.pairs.map((p) => ({ positive: p.positiveInput, negative: p.negativeInput }));
    const inputs = [...this.replay.flat(), ...fresh];
    if (update.replaySteps > 0) {
      this.replay.push(fresh);
      if (this.replay.length > update.replaySteps) this.replay.shift();
    }
    if (this.#alarm && this.#host.config.monitor.response === "freeze") {
      this.#frozenSteps++;
      return { ...out, rm_frozen: 1 };
    }
    // The pointwise anchor: the verifier's labels of this step's rollouts (only with anchorWeight > 0).
    const anchor = update.anchorWeight === 0 ? undefined : {
      weight: update.anchorWeight,
      items: batch.samples.map((s, i) => ({
        input: formatRmInput(s.question, s.answer, s.text),
        label: batch.verdicts[i] === "correct" ? 1 : 0,
      })),
    };
    if (inputs.length === 0 && anchor === undefined) return out;
    let trained = false;
    let skipped = 0;
    let report;
    for (let epoch = 0; epoch < update.epochs; epoch++) {
      report = await (anchor === undefined
        ? this.#host.roles.rewardLearner.updatePairs(inputs)
        : this.#host.roles.rewardLearner.updatePairs(inputs, undefined, anchor));
      trained ||= !report.skipped;
      if (report.skipped) {
        skipped++;
      }
    }
    Object.assign(out, {
      rm_loss: report!.loss,
      rm_train_pair_accuracy: report!.metrics.accuracy ?? Number.NaN,
      rm_update_skipped: skipped,
    });
    this.#host.skips.rm.record(!trained, step + 1, report!);
    // A fully skipped update left the RM as it was: same version.
    if (!trained) return out;
    this.#host.rmVersion++;
    await this.#host.roles.rewardLearner.snapshot(this.#host.rmVersion, this.snapshotsKept);
    await this.#host.publishRm();
    return { ...out, rm_pairs_trained: inputs.length };
  }
}
