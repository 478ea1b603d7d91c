/**
 * Run bookkeeping: exact sample accounting (every generated sample is scored, then trained or dropped as stale,
 * each exactly once), and accuracy helpers for verdicts and RM scores.
 *
 * The ledger tracks sample ids rather than bare counters so a retried call (a dead actor's work re-queued) that
 * reports the same sample twice is caught at the moment it happens, with the id, instead of surfacing later as
 * an off-by-n total.
 */
import { CoopError } from "../shared/mod.ts";

import type { Verdict } from "./verify/mod.ts";

/** Raised when accounting breaks: a sample counted twice, out of order, or totals that do not add up. */
export class AccountingError extends CoopError {
  override name = "AccountingError";
}

/** Where a sample is in its life. */
/** `skipped`: in a policy update the Trainer skipped as non-finite, so not trained on. `refused`: its weights digest
 * is not its claimed version's (rl/attestation.ts), so not trained on. */
export type SampleState = "generated" | "scored" | "trained" | "dropped-stale" | "skipped" | "refused";

const STATES: readonly SampleState[] = ["generated", "scored", "trained", "dropped-stale", "skipped", "refused"];

/**
 * Counts at one moment. Invariants: generated = scored + awaitingScore;
 * scored = trained + droppedStale + skipped + refused + awaitingTraining.
 */
export interface AccountingSnapshot {
  generated: number;
  scored: number;
  trained: number;
  droppedStale: number;
  /** In an update the Trainer skipped (non-finite): scored, never trained on. */
  skipped: number;
  /** Not trained on: the weights digest a sample reported is not its claimed version's (rl/attestation.ts). */
  refused?: number;
  awaitingScore: number;
  awaitingTraining: number;
}

/** Serialised ledger, for checkpoints (driver state). */
export interface LedgerState {
  samples: [string, SampleState][];
}

/** Per-sample state machine: generated → scored → trained | dropped-stale. */
export class SampleLedger {
  readonly #states = new Map<string, SampleState>();
  #scored = 0;
  #trained = 0;
  #dropped = 0;
  #skipped = 0;
  #refused = 0;

  /** Records newly generated samples; an id seen before is an error. */
  generated(ids: Iterable<string>): void {
    for (const id of ids) {
      if (this.#states.has(id)) {
        throw new AccountingError(`Cannot record sample "${id}" as generated: it is already ${this.#states.get(id)}`);
      }
      this.#states.set(id, "generated");
    }
  }

  /** Records scored samples; each must be generated and not yet scored. */
  scored(ids: Iterable<string>): void {
    for (const id of ids) {
      this.#move(id, "generated", "scored");
      this.#scored++;
    }
  }

  /** Records samples used in a policy update. */
  trained(ids: Iterable<string>): void {
    for (const id of ids) {
      this.#move(id, "scored", "trained");
      this.#trained++;
    }
  }

  /** Records samples dropped for exceeding the staleness bound. */
  droppedStale(ids: Iterable<string>): void {
    for (const id of ids) {
      this.#move(id, "scored", "dropped-stale");
      this.#dropped++;
    }
  }

  /** Records samples of a policy update the Trainer skipped (non-finite loss or gradients). */
  skipped(ids: Iterable<string>): void {
    for (const id of ids) {
      this.#move(id, "scored", "skipped");
      this.#skipped++;
    }
  }

  /** Records samples refused for training: their weights digest does not match the version they claim. */
  refused(ids: Iterable<string>): void {
    for (const id of ids) {
      this.#move(id, "scored", "refused");
      this.#refused++;
    }
  }

  /** The state of one sample, or `undefined` if never generated. */
  state(id: string): SampleState | undefined {
    return this.#states.get(id);
  }

  /** Current counts. */
  snapshot(): AccountingSnapshot {
    const generated = this.#states.size;
    return {
      generated,
      scored: this.#scored,
      trained: this.#trained,
      droppedStale: this.#dropped,
      skipped: this.#skipped,
      // Present once a sample was refused, so snapshots of runs without refusals read as before.
      ...(this.#refused > 0 ? { refused: this.#refused } : {}),
      awaitingScore: generated - this.#scored,
      awaitingTraining: this.#scored - this.#trained - this.#dropped - this.#skipped - this.#refused,
    };
  }

  /**
   * Checks the totals; with `settled` (end of a synchronous step, end of run) nothing may still be in flight.
   * The error lists the counts and the first few unsettled ids.
   */
  assertBalanced(options: { settled?: boolean } = {}): void {
    const s = this.snapshot();
    const counted = { generated: 0, scored: 0, trained: 0, "dropped-stale": 0, skipped: 0, refused: 0 };
    for (const state of this.#states.values()) counted[state]++;
    const consistent = counted.trained === s.trained && counted["dropped-stale"] === s.droppedStale &&
      counted.skipped === s.skipped && counted.refused === this.#refused &&
      counted.scored + s.trained + s.droppedStale + s.skipped + this.#refused === s.scored;
    if (!consistent) {
      throw new AccountingError(`Sample accounting is corrupt: ${describe(s)}; states ${JSON.stringify(counted)}`);
    }
    if (options.settled && (s.awaitingScore > 0 || s.awaitingTraining > 0)) {
      const pending = [...this.#states].filter(([, st]) => st === "generated" || st === "scored").slice(0, 5);
      const ids = pending.map(([id, st]) => `${id} (${st})`).join(", ");
      throw new AccountingError(
        `Sample accounting mismatch: ${describe(s)}; ${s.awaitingScore + s.awaitingTraining} unsettled: ${ids}`,
      );
    }
  }

  /** Serialises for a checkpoint. */
  toState(): LedgerState {
    return { samples: [...this.#states] };
  }

  /** Rebuilds a ledger from {@link toState}'s output. */
  static fromState(state: LedgerState): SampleLedger {
    const ledger = new SampleLedger();
    for (const [id, st] of state.samples) {
      if (ledger.#states.has(id)) throw new AccountingError(`Cannot restore ledger: sample "${id}" appears twice`);
      if (!STATES.includes(st)) {
        throw new AccountingError(`Cannot restore ledger: sample "${id}" has unknown state "${st}"`);
      }
      ledger.#states.set(id, st);
      if (st !== "generated") ledger.#scored++;
      if (st === "trained") ledger.#trained++;
      if (st === "dropped-stale") ledger.#dropped++;
      if (st === "skipped") ledger.#skipped++;
      if (st === "refused") ledger.#refused++;
    }
    return ledger;
  }

  #move(id: string, from: SampleState, to: SampleState): void {
    const current = this.#states.get(id);
    if (current !== from) {
      const now = current === undefined ? "was never generated" : `is already ${current}`;
      throw new AccountingError(`Cannot record sample "${id}" as ${to}: it ${now}`);
    }
    this.#states.set(id, to);
  }
}

function describe(s: AccountingSnapshot): string {
  const skipped = s.skipped > 0 ? ` + skipped ${s.skipped}` : "";
  const refused = s.refused ? ` + refused ${s.refused}` : "";
  return `generated ${s.generated}, scored ${s.scored}, trained ${s.trained} + dropped-stale ${s.droppedStale}` +
    skipped + refused;
}

/** Held-out accuracy from verifier verdicts; unparseable answers count as wrong. */
export interface AccuracySummary {
  accuracy: number;
  correct: number;
  incorrect: number;
  unparseable: number;
  total: number;
}

/** Summarises verdicts (accuracy is 0 for an empty set). */
export function accuracyOf(verdicts: readonly Verdict[]): AccuracySummary {
  const counts = { correct: 0, incorrect: 0, unparseable: 0 };
  for (const v of verdicts) counts[v]++;
  const total = verdicts.length;
  return { accuracy: total === 0 ? 0 : counts.correct / total, ...counts, total };
}

/** Fraction of pairs the RM orders correctly (s_pos > s_neg); ties count half. */
export function pairwiseAccuracy(positiveScores: readonly number[], negativeScores: readonly number[]): number {
  if (positiveScores.length !== negativeScores.length) {
    throw new RangeError(
      `Cannot compute pairwise accuracy: ${positiveScores.length} positive but ${negativeScores.length} negative scores`,
    );
  }
  if (positiveScores.length === 0) return 0;
  let wins = 0;
  positiveScores.forEach((sp, i) => {
    const sn = negativeScores[i]!;
    wins += sp > sn ? 1 : sp === sn ? 0.5 : 0;
  });
  return wins / positiveScores.length;
}

/** How well RM scores agree with verifier verdicts on one batch of samples. */
export interface RmAgreement {
  /** Fraction of samples where σ(score) > ½ agrees with "correct" (non-finite scores count as disagreeing). */
  accuracy: number;
  /**
   * Fraction of (correct, not correct) response pairs of the same prompt that the RM orders correctly, ties half:
   * what GRPO's group-normalised advantage actually depends on. NaN when no prompt has both kinds.
   */
  rankAccuracy: number;
  /** Number of such within-prompt pairs. */
  rankPairs: number;
}

/** Agreement of RM logits with verifier verdicts; `groups[i]` is sample i's prompt id. */
export function rmAgreement(
  scores: readonly number[],
  verdicts: readonly Verdict[],
  groups: readonly string[],
): RmAgreement {
  if (scores.length !== verdicts.length || groups.length !== verdicts.length) {
    throw new RangeError(
      `Cannot compute RM agreement: ${scores.length} scores, ${verdicts.length} verdicts, ${groups.length} groups`,
    );
  }
  let agree = 0;
  const byGroup = new Map<string, { right: number[]; wrong: number[] }>();
  scores.forEach((s, i) => {
    const correct = verdicts[i] === "correct";
    if (Number.isFinite(s) && (s > 0) === correct) agree++;
    const g = byGroup.get(groups[i]!) ?? { right: [], wrong: [] };
    (correct ? g.right : g.wrong).push(s);
    byGroup.set(groups[i]!, g);
  });
  let wins = 0;
  let pairs = 0;
  for (const { right, wrong } of byGroup.values()) {
    for (const r of right) {
      for (const w of wrong) {
        pairs++;
        wins += r > w ? 1 : r === w ? 0.5 : 0;
      }
    }
  }
  return {
    accuracy: scores.length === 0 ? Number.NaN : agree / scores.length,
    rankAccuracy: pairs === 0 ? Number.NaN : wins / pairs,
    rankPairs: pairs,
  };
}
