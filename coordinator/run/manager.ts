/**
 * The run manager: starts jobs (RL runs, SFT, RM pretraining) on a cluster, keeps each run's status and metric
 * history, lets listeners follow new points (the API's SSE stream, the CLI's progress bars), and stops runs on
 * request. It lives in whichever process drives the runs: the coordinator (behind `/v1/runs`) or the demo.
 */
import type { Cluster } from "../../actors/cluster.ts";
import type { JobConfig } from "../../rl/mod.ts";
import { CancelledError, NotFoundError } from "../../shared/errors.ts";
import { runRl } from "./driver.ts";
import { emptyAccounting, type JobContext, type MetricPoint, type RunStatus } from "./job.ts";
import { runRmPretrain, runSft } from "./warmup.ts";

/** A run event: a new metric point, or a status change. */
export type RunEvent = { type: "metric"; point: MetricPoint } | { type: "status"; status: RunStatus };

/** Options for {@link RunManager.start}. */
export interface StartOptions {
  /** Checkpoint dir to resume an RL run from. */
  resume?: string;
  /** Run id (default: the config name plus a random suffix). */
  id?: string;
}

interface Run {
  status: RunStatus;
  config: JobConfig;
  metrics: MetricPoint[];
  listeners: Set<(event: RunEvent) => void>;
  abort: AbortController;
  done: Promise<RunStatus>;
}

/** Starts and tracks runs on one cluster. */
export class RunManager {
  readonly #cluster: Cluster;
  readonly #runs = new Map<string, Run>();

  constructor(cluster: Cluster) {
    this.#cluster = cluster;
  }

  /** Starts a run in the background; returns its initial status. */
  start(config: JobConfig, options: StartOptions = {}): RunStatus {
    const base = config.name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40) || "run";
    const id = options.id ?? `${base}-${crypto.randomUUID().slice(0, 6)}`;
    const status: RunStatus = {
      id,
      name: config.name,
      kind: config.kind,
      mode: config.kind === "rl" ? config.mode : undefined,
      state: "running",
      step: 0,
      steps: config.steps,
      policyVersion: 0,
      rmVersion: 0,
      staleness: { max: config.kind === "rl" ? config.maxStaleness : 0, last: 0, highest: 0 },
      accounting: emptyAccounting(),
      startedAt: new Date().toISOString(),
      notes: [],
    };
    const run: Run = {
      status,
      config,
      metrics: [],
      listeners: new Set(),
      abort: new AbortController(),
      done: Promise.resolve(status),
    };
    const started = performance.now();
    const emit = (event: RunEvent) => {
      for (const listener of run.listeners) listener(event);
    };
    const ctx: JobContext = {
      cluster: this.#cluster,
      id,
      signal: run.abort.signal,
      resume: options.resume,
      status,
      metric: (point) => {
        const full = { ...point, time: (performance.now() - started) / 1000 } as MetricPoint;
        run.metrics.push(full);
        emit({ type: "metric", point: full });
        emit({ type: "status", status });
      },
      changed: () => emit({ type: "status", status }),
    };
    this.#runs.set(id, run);
    run.done = (async () => {
      try {
        if (config.kind === "rl") await runRl(ctx, config);
        else if (config.kind === "sft") await runSft(ctx, config);
        else await runRmPretrain(ctx, config);
        if (status.state === "running") status.state = "finished";
      } catch (error) {
        // A stop that arrives while actors are still being placed cancels their spawns: that is a stop, not a failure.
        if (error instanceof CancelledError && run.abort.signal.aborted) {
          status.state = "stopped";
          status.finishedAt = new Date().toISOString();
          emit({ type: "status", status });
          return status;
        }
        status.state = "failed";
        status.error = { name: (error as Error).name ?? "Error", message: (error as Error).message ?? String(error) };
      }
      status.finishedAt = new Date().toISOString();
      emit({ type: "status", status });
      return status;
    })();
    return status;
  }

  /** Every run's status, newest first. */
  list(): RunStatus[] {
    return [...this.#runs.values()].map((r) => r.status).reverse();
  }

  /** One run's status; throws `NotFoundError` for an unknown id. */
  get(id: string): RunStatus {
    return this.#run(id).status;
  }

  /** The run's metric points after `since` steps (default all). */
  metrics(id: string, since = -1): MetricPoint[] {
    return this.#run(id).metrics.filter((p) => p.step > since);
  }

  /** Calls `listener` on every new event of the run; returns the unsubscribe function. */
  subscribe(id: string, listener: (event: RunEvent) => void): () => void {
    const run = this.#run(id);
    run.listeners.add(listener);
    return () => run.listeners.delete(listener);
  }

  /** Asks a run to stop after its current step (it checkpoints first); returns at once. */
  stop(id: string): RunStatus {
    const run = this.#run(id);
    run.abort.abort();
    return run.status;
  }

  /** Resolves with the final status when the run ends. */
  wait(id: string): Promise<RunStatus> {
    return this.#run(id).done;
  }

  /** Stops every run and waits for them. */
  async close(): Promise<void> {
    for (const run of this.#runs.values()) run.abort.abort();
    await Promise.all([...this.#runs.values()].map((r) => r.done));
  }

  #run(id: string): Run {
    const run = this.#runs.get(id);
    if (run === undefined) throw new NotFoundError(`Run "${id}" does not exist`);
    return run;
  }
}
