/**
 * The reward-hacking monitor: every step it compares what the RM says about the fresh rollouts with what the
 * verifier says. Reward hacking shows as the two trends parting: the RM's mean reward rises while the verifier's
 * accuracy on the same samples falls. Over a sliding window of steps the monitor fits a least-squares slope to
 * each series and raises `hacking_alarm` when the RM reward rose and the verifier accuracy fell by at least
 * `threshold` across the window. It also remembers the last RM version whose agreement with the verifier on its
 * own batch was at least `agreement`, which is what a roll-back returns to.
 *
 * The trend test misses the slow slide the demo's frozen RM shows (docs/rl.md): verifier accuracy falls over tens
 * of steps while σ(RM) stays where it was, and one step's 32 samples are too noisy for a 10-step slope. So the
 * alarm also has a drift test against the run's start: the window's mean RM overpayment (σ(RM) − verifier
 * accuracy) is `threshold` or more above the first window's, and the window's mean verifier accuracy `threshold`
 * or more below it — the RM pays relatively more while the answers get worse.
 *
 * Pure bookkeeping: what to do about an alarm (nothing, freeze RM updates, roll the RM back) is the driver's call.
 */
import { CoopError } from "../shared/mod.ts";

/** Options of {@link HackingMonitor}. */
export interface MonitorOptions {
  /** Steps the trends are fitted over (at least 2); no alarm before a full window. */
  window: number;
  /** Smallest change across the window (slope × (window − 1)) that counts as a rise or a fall. */
  threshold: number;
  /** Sample-level RM–verifier agreement at which an RM version counts as agreeing. */
  agreement: number;
  /** Which tests raise the alarm: the window `trend`s, the `drift` from the first window, or `both` (default). */
  test?: MonitorTest;
}

/** The alarm's tests (see {@link MonitorOptions.test}). */
export type MonitorTest = "trend" | "drift" | "both";

/** What the monitor is told about one step. */
export interface MonitorInput {
  step: number;
  /** RM version that scored the step's samples. */
  rmVersion: number;
  /** Mean σ(RM) of the fresh samples. */
  rmReward: number;
  /** Verifier accuracy of the same samples. */
  verifierAccuracy: number;
  /** Fraction of samples where σ(RM) > ½ agrees with the verdict. */
  agreement: number;
}

/** The monitor's reading after a step (metric names as the run reports them). */
export interface MonitorReading {
  /** RM–verifier agreement of this step's samples. */
  rm_verifier_agreement: number;
  /** Change of mean RM reward across the window (NaN until the window is full). */
  rm_reward_trend: number;
  /** Change of verifier accuracy across the window (NaN until the window is full). */
  verifier_accuracy_trend: number;
  /** Change of the window's mean overpayment (σ(RM) − verifier accuracy) from the first window's (NaN before). */
  rm_overpay_drift: number;
  /** Change of the window's mean verifier accuracy from the first window's (NaN before a second full window). */
  verifier_accuracy_drift: number;
  /** 1 while a test says the RM reward rises against a falling verifier accuracy, else 0. */
  hacking_alarm: number;
}

/** Means over the first full window: what the drift test compares with. */
interface Baseline {
  overpay: number;
  accuracy: number;
}

/** Raised for monitor options that cannot work (a window below 2, a negative threshold). */
export class MonitorError extends CoopError {
  override name = "MonitorError";
}

/** Sliding-window reward-hacking detector. */
export class HackingMonitor {
  readonly options: MonitorOptions;
  readonly #history: MonitorInput[] = [];
  #alarms = 0;
  #lastAgreeing: number | undefined;
  #baseline: Baseline | undefined;
  #seen = 0;

  constructor(options: MonitorOptions) {
    if (!Number.isInteger(options.window) || options.window < 2) {
      throw new MonitorError(`Cannot build a hacking monitor: window must be an integer ≥ 2, got ${options.window}`);
    }
    if (!(options.threshold >= 0)) {
      throw new MonitorError(`Cannot build a hacking monitor: threshold must be ≥ 0, got ${options.threshold}`);
    }
    this.options = options;
  }

  /** Steps that raised the alarm so far. */
  get alarms(): number {
    return this.#alarms;
  }

  /** The newest RM version that agreed with the verifier on its batch, if any did. */
  get lastAgreeingRmVersion(): number | undefined {
    return this.#lastAgreeing;
  }

  /** Records one step and returns the reading. Non-finite inputs are kept out of the fits. */
  observe(input: MonitorInput): MonitorReading {
    this.#history.push(input);
    if (this.#history.length > this.options.window) this.#history.shift();
    if (Number.isFinite(input.agreement) && input.agreement >= this.options.agreement) {
      this.#lastAgreeing = Math.max(this.#lastAgreeing ?? -1, input.rmVersion);
    }
    this.#seen++;
    const { window, threshold } = this.options;
    const full = this.#history.length === window;
    const span = window - 1;
    const rmTrend = full ? slope(this.#history.map((h) => [h.step, h.rmReward])) * span : Number.NaN;
    const accTrend = full ? slope(this.#history.map((h) => [h.step, h.verifierAccuracy])) * span : Number.NaN;
    const trend = rmTrend >= threshold && accTrend <= -threshold && (rmTrend > 0 || accTrend < 0);
    const now = full ? windowMeans(this.#history) : undefined;
    if (this.#seen === window) this.#baseline = now;
    // From the second full window on (the first one is the baseline itself).
    const base = this.#seen >= 2 * window ? this.#baseline : undefined;
    const overpayDrift = base && now ? now.overpay - base.overpay : Number.NaN;
    const accDrift = base && now ? now.accuracy - base.accuracy : Number.NaN;
    const drift = overpayDrift >= threshold && accDrift <= -threshold && (overpayDrift > 0 || accDrift < 0);
    const test = this.options.test ?? "both";
    const alarm = (test !== "drift" && trend) || (test !== "trend" && drift);
    if (alarm) this.#alarms++;
    return {
      rm_verifier_agreement: input.agreement,
      rm_reward_trend: rmTrend,
      verifier_accuracy_trend: accTrend,
      rm_overpay_drift: overpayDrift,
      verifier_accuracy_drift: accDrift,
      hacking_alarm: alarm ? 1 : 0,
    };
  }

  /** For checkpoints: what {@link restore} needs to continue the window. */
  toState(): MonitorState {
    return {
      history: [...this.#history],
      alarms: this.#alarms,
      lastAgreeing: this.#lastAgreeing,
      baseline: this.#baseline,
      seen: this.#seen,
    };
  }

  /** Continues from {@link toState}'s output (a state from before the drift test starts its baseline anew). */
  restore(state: MonitorState): void {
    this.#history.splice(0, this.#history.length, ...state.history.slice(-this.options.window));
    this.#alarms = state.alarms;
    this.#lastAgreeing = state.lastAgreeing;
    this.#baseline = state.baseline;
    this.#seen = state.seen ?? this.#history.length;
  }
}

/** What a checkpoint keeps of a {@link HackingMonitor}. */
export interface MonitorState {
  history: MonitorInput[];
  alarms: number;
  lastAgreeing?: number;
  baseline?: Baseline;
  /** Steps observed since the run started. */
  seen?: number;
}

/** The window's mean overpayment (σ(RM) − verifier accuracy) and verifier accuracy, over finite steps. */
function windowMeans(history: readonly MonitorInput[]): Baseline | undefined {
  const finite = history.filter((h) => Number.isFinite(h.rmReward) && Number.isFinite(h.verifierAccuracy));
  if (finite.length === 0) return undefined;
  const mean = (f: (h: MonitorInput) => number) => finite.reduce((a, h) => a + f(h), 0) / finite.length;
  return { overpay: mean((h) => h.rmReward - h.verifierAccuracy), accuracy: mean((h) => h.verifierAccuracy) };
}

/** Least-squares slope of y over x for the finite points; NaN with fewer than two distinct x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const finite = points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const n = finite.length;
  if (n < 2) return Number.NaN;
  const mx = finite.reduce((a, [x]) => a + x, 0) / n;
  const my = finite.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of finite) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}
