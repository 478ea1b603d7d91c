/**
 * A skipped step is not a trained step. The Trainer skips an update whose loss or gradients are not finite (the
 * weights and optimizer state stay as they were); the run must then not count the step's samples as trained nor
 * bump the model version, and a run whose updates keep being skipped has diverged and must stop with an error
 * that says so instead of "finishing" with frozen weights.
 */
import { CoopError } from "../shared/mod.ts";

/** Raised when `limit` consecutive updates of one model were skipped as non-finite. */
export class DivergedError extends CoopError {
  override name = "DivergedError";
}

/** Counts consecutive skipped updates of one model and fails at `limit`. */
export class SkipGuard {
  readonly model: string;
  readonly limit: number;
  #consecutive = 0;
  #total = 0;

  constructor(model: string, limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`Cannot guard "${model}" updates: limit must be a positive integer, got ${limit}`);
    }
    this.model = model;
    this.limit = limit;
  }

  /** Skipped updates so far. */
  get total(): number {
    return this.#total;
  }

  /** Skipped updates in a row, up to now. */
  get consecutive(): number {
    return this.#consecutive;
  }

  /**
   * Records one update's outcome; throws {@link DivergedError} at the `limit`-th skip in a row. `detail` (loss,
   * grad norm) goes into the error message.
   */
  record(skipped: boolean, step: number, detail: { loss: number; gradNorm: number }): void {
    if (!skipped) {
      this.#consecutive = 0;
      return;
    }
    this.#consecutive++;
    this.#total++;
    if (this.#consecutive >= this.limit) {
      throw new DivergedError(
        `The ${this.model} update was skipped ${this.#consecutive} steps in a row (non-finite loss or gradients; ` +
          `last at step ${step}: loss ${detail.loss}, grad norm ${detail.gradNorm}); the run stops instead of ` +
          `training on unchanged weights. Lower the learning rate or check the data.`,
      );
    }
  }
}
