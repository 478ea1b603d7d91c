/**
 * Experiment tracking for every run a {@link RunManager} drives: a run whose config has
 * `logging: {jsonl: {dir}, tensorboard: {dir}}` gets its metric points appended to `<dir>/<run id>/metrics.jsonl`
 * (one JSON object per step; NaN as null) and to a TensorBoard event file in `<dir>/<run id>/` (one scalar per
 * metric, tagged by name, at the step). Directories are resolved against the coordinator's working directory.
 */
import type { JobConfig } from "../../rl/mod.ts";
import { absolutePath } from "./checkpoint.ts";
import type { MetricPoint, RunStatus } from "./job.ts";
import { TfEventWriter } from "./tfevents.ts";

/** Receives every run's metric points (experiment trackers: JSON lines, TensorBoard). */
export interface MetricSink {
  point(status: RunStatus, config: JobConfig, point: MetricPoint): void | Promise<void>;
  /** The run ended (any final state). */
  end?(status: RunStatus): void | Promise<void>;
}

interface Writers {
  jsonl?: Promise<Deno.FsFile>;
  tensorboard?: TfEventWriter;
  writing: Promise<void>;
}

/** The {@link MetricSink} writing JSON lines and TensorBoard events. */
export class TrackingSink implements MetricSink {
  readonly #runs = new Map<string, Promise<Writers>>();

  async point(status: RunStatus, config: JobConfig, point: MetricPoint): Promise<void> {
    const writers = await this.#writers(status.id, config);
    if (writers === undefined) return;
    const { time, step, ...values } = point;
    const line = new TextEncoder().encode(`${JSON.stringify(point)}\n`);
    writers.writing = writers.writing.then(async () => {
      if (writers.jsonl !== undefined) await (await writers.jsonl).write(line);
      await writers.tensorboard?.scalars(step, values, Date.parse(status.startedAt) / 1000 + time);
    });
    await writers.writing;
  }

  async end(status: RunStatus): Promise<void> {
    const pending = this.#runs.get(status.id);
    if (pending === undefined) return;
    this.#runs.delete(status.id);
    const writers = await pending;
    await writers.writing.catch(() => {});
    if (writers.jsonl !== undefined) (await writers.jsonl).close();
    await writers.tensorboard?.close();
  }

  #writers(id: string, config: JobConfig): Promise<Writers | undefined> {
    const { jsonl, tensorboard } = config.logging ?? {};
    if (jsonl === undefined && tensorboard === undefined) return Promise.resolve(undefined);
    // One promise per run, set synchronously: concurrent first points share it instead of opening files twice.
    let writers = this.#runs.get(id);
    if (writers === undefined) {
      writers = (async () => ({
        writing: Promise.resolve(),
        jsonl: jsonl === undefined ? undefined : openJsonl(`${await absolutePath(jsonl.dir)}/${id}`),
        tensorboard: tensorboard === undefined
          ? undefined
          : new TfEventWriter(`${await absolutePath(tensorboard.dir)}/${id}`),
      }))();
      this.#runs.set(id, writers);
    }
    return writers;
  }
}

async function openJsonl(dir: string): Promise<Deno.FsFile> {
  await Deno.mkdir(dir, { recursive: true });
  // Appended: a resumed run continues the same file (readers keep the last point per step).
  return await Deno.open(`${dir}/metrics.jsonl`, { create: true, append: true });
}
