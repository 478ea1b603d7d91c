/**
 * The run manager: starts jobs (RL runs, SFT, RM pretraining) on a cluster, keeps each run's status and metric
 * history, lets listeners follow new points (the API's SSE stream, the dashboard, the CLI's progress bars), and
 * stops runs on request. It lives in whichever process drives the runs: the coordinator (behind `/v1/runs`) or the
 * demo. With a {@link RunStore} every record, point and transition is persisted, and `recover()` on a new leader
 * brings back the runs its predecessor drove: their history listed, their leftover actors killed, their state
 * `interrupted` with the command that resumes them.
 */
import { ConflictError } from "../http/mod.ts";
import type { Cluster } from "../../actors/mod.ts";
import { weightsBlobName } from "../../actors/weights/mod.ts";
import type { JobConfig } from "../../rl/mod.ts";
import { CancelledError, NotFoundError } from "../../shared/mod.ts";
import { createLogger } from "../../shared/mod.ts";

import { loadDriverState } from "./checkpoint.ts";
import { runRl } from "./driver.ts";
import { withHackingGap } from "./hacking.ts";
import {
  emptyAccounting,
  type JobContext,
  type MetricPoint,
  type RunEvent,
  type RunState,
  type RunStatus,
} from "./job.ts";
import type { RunStore } from "./store.ts";
import { type MetricSink, TrackingSink } from "./tracking.ts";
import { runSft } from "./warmup.ts";
import { runRmPretrain } from "./rm_pretrain.ts";

// Defined beside the run's status (job.ts) so readers of the stream need not import the manager; re-exported here
// for the code that always took it from here.
export type { RunEvent };

/** Options for {@link RunManager.start}. */
export interface StartOptions {
  /** Checkpoint dir to resume an RL run from. */
  resume?: string;
  /** Run id (default: the config name plus a random suffix). */
  id?: string;
}

/** Options for the {@link RunManager} constructor. */
export interface RunManagerOptions {
  /** Persists runs (KV record + stream of points); without it runs live in memory only. */
  store?: RunStore;
  /** Metric sinks every run reports to. Default: the {@link TrackingSink} (the config's `logging`). */
  sinks?: MetricSink[];
}

interface Run {
  status: RunStatus;
  config: JobConfig;
  metrics: MetricPoint[];
  listeners: Set<(event: RunEvent) => void>;
  abort: AbortController;
  done: Promise<RunStatus>;
}

const log = createLogger({ component: "runs" });
const ENDED: readonly RunState[] = ["finished", "stopped", "failed", "interrupted"];

/** Starts and tracks runs on one cluster. */
export class RunManager {
  readonly #cluster: Cluster;
  readonly #store: RunStore | undefined;
  readonly #sinks: MetricSink[];
  readonly #runs = new Map<string, Run>();
  readonly #all = new Set<(id: string, event: RunEvent) => void>();

  constructor(cluster: Cluster, options: RunManagerOptions = {}) {
    this.#cluster = cluster;
    this.#store = options.store;
    this.#sinks = options.sinks ?? [new TrackingSink()];
  }

  /** Starts a run in the background; returns its initial status. */
  start(config: JobConfig, options: StartOptions = {}): RunStatus {
    const base = config.name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40) || "run";
    const id = options.id ?? `${base}-${crypto.randomUUID().slice(0, 6)}`;
    if (this.#runs.has(id)) throw new ConflictError(`Run "${id}" already exists`);
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
    this.#launch({ status, config, metrics: [] }, options.resume);
    return status;
  }

  /**
   * Continues an interrupted, stopped or failed run under the same id: from its last checkpoint when it has one
   * (its later points are dropped, the resumed run records them again), else from the start.
   */
  async resume(id: string): Promise<RunStatus> {
    const run = this.#run(id);
    const { status } = run;
    if (status.state === "running" || status.state === "finished") {
      throw new ConflictError(`Run "${id}" is ${status.state}: only interrupted, stopped or failed runs resume`);
    }
    const from = status.checkpoint === undefined ? 0 : (await loadDriverState(status.checkpoint)).nextStep;
    const { error: _error, finishedAt: _finished, resumeCommand: _command, ...kept } = status;
    const resumed: RunStatus = {
      ...kept,
      state: "running",
      step: from,
      notes: [...status.notes, `resumed ${status.checkpoint ? `from ${status.checkpoint}` : "from the start"}`],
    };
    const metrics = run.metrics.filter((p) => p.step <= from);
    this.#launch({ status: resumed, config: run.config, metrics }, status.checkpoint);
    return resumed;
  }

  #launch(base: Pick<Run, "status" | "config" | "metrics">, resume: string | undefined): void {
    const { status, config } = base;
    const run: Run = { ...base, listeners: new Set(), abort: new AbortController(), done: Promise.resolve(status) };
    const started = performance.now();
    const offset = run.metrics.at(-1)?.time ?? 0;
    const emit = (event: RunEvent) => {
      for (const listener of run.listeners) listener(event);
      for (const listener of this.#all) listener(status.id, event);
    };
    const changed = () => {
      emit({ type: "status", status });
      this.#persist(run);
    };
    const ctx: JobContext = {
      cluster: this.#cluster,
      id: status.id,
      signal: run.abort.signal,
      resume,
      status,
      metric: (point) => {
        const timed = { ...point, time: offset + (performance.now() - started) / 1000 } as MetricPoint;
        const full = withHackingGap(timed);
        run.metrics.push(full);
        this.#store?.appendMetric(status.id, full).catch((e) => log.warn(`Cannot store a metric point: ${e.message}`));
        for (const sink of this.#sinks) this.#toSink(() => sink.point(status, config, full));
        emit({ type: "metric", point: full });
        changed();
      },
      changed,
    };
    this.#runs.set(status.id, run);
    this.#transition(run);
    run.done = (async () => {
      try {
        if (config.kind === "rl") await runRl(ctx, config);
        else if (config.kind === "sft") await runSft(ctx, config);
        else await runRmPretrain(ctx, config);
        if (status.state === "running") status.state = "finished";
      } catch (error) {
        // A stop that arrives while actors are still being placed cancels their spawns: that is a stop, not a failure.
        if (error instanceof CancelledError && run.abort.signal.aborted) status.state = "stopped";
        else {
          status.state = "failed";
          status.error = { name: (error as Error).name ?? "Error", message: (error as Error).message ?? String(error) };
        }
      }
      status.finishedAt = new Date().toISOString();
      changed();
      this.#transition(run);
      for (const sink of this.#sinks) this.#toSink(() => sink.end?.(status));
      return status;
    })();
  }

  #toSink(call: () => void | Promise<void>): void {
    try {
      Promise.resolve(call()).catch((e) => log.warn(`A metric sink failed: ${(e as Error).message}`));
    } catch (e) {
      log.warn(`A metric sink failed: ${(e as Error).message}`);
    }
  }

  #persist(run: Run): void {
    this.#store?.save({ status: run.status, config: run.config }).catch((e) =>
      log.warn(`Cannot store run "${run.status.id}": ${(e as Error).message}`)
    );
  }

  #transition(run: Run, note?: string): void {
    const { status } = run;
    this.#persist(run);
    this.#store?.appendTransition(status.id, { ts: Date.now(), state: status.state, step: status.step, note })
      .catch((e) => log.warn(`Cannot store a run transition: ${(e as Error).message}`));
  }

  /**
   * Loads the runs a previous coordinator persisted. Runs it was still driving are marked `interrupted` with
   * the command that resumes them, and their leftover actors and weight blobs are removed. Returns those runs.
   */
  async recover(): Promise<RunStatus[]> {
    if (this.#store === undefined) return [];
    const interrupted: RunStatus[] = [];
    for (const stored of await this.#store.loadAll()) {
      const { status, config } = stored.record;
      if (this.#runs.has(status.id)) continue;
      const run: Run = {
        status,
        config,
        metrics: stored.metrics,
        listeners: new Set(),
        abort: new AbortController(),
        done: Promise.resolve(status),
      };
      this.#runs.set(status.id, run);
      if (status.state !== "running") continue;
      status.state = "interrupted";
      status.finishedAt = new Date().toISOString();
      status.resumeCommand = `coop runs resume ${status.id}`;
      status.notes.push(
        `interrupted: the coordinator driving it stopped; ${status.resumeCommand} continues it ` +
          (status.checkpoint ? `from ${status.checkpoint}` : "from the start (no checkpoint yet)"),
      );
      await this.#reclaim(run);
      this.#transition(run, "coordinator failover");
      interrupted.push(status);
    }
    await this.#store.flush();
    return interrupted;
  }

  /** Kills the actors a dead driver left (named `<run id>-<role>`) and deletes its published weight versions. */
  async #reclaim(run: Run): Promise<void> {
    const { id } = run.status;
    for (const actor of await this.#cluster.actors()) {
      if (!actor.name?.startsWith(`${id}-`) || actor.state === "dead") continue;
      await this.#cluster.kill(actor.id, { graceful: false }).catch((e) =>
        log.warn(`Cannot kill actor "${actor.id}" of interrupted run "${id}": ${(e as Error).message}`)
      );
    }
    const blobs = await this.#cluster.blobs();
    const window = (run.config.kind === "rl" ? run.config.maxStaleness : 0) + 3;
    for (const [prefix, version] of [["policy", run.status.policyVersion], ["rm", run.status.rmVersion]] as const) {
      for (let v = Math.max(0, version - window); v <= version + 1; v++) {
        await blobs.delete(weightsBlobName(`${id}.${prefix}`, v)).catch(() => {});
      }
    }
  }

  /** Every run's status, newest first. */
  list(): RunStatus[] {
    return [...this.#runs.values()].map((r) => r.status).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
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

  /** Calls `listener` on every event of every run (the dashboard's stream); returns the unsubscribe function. */
  subscribeAll(listener: (id: string, event: RunEvent) => void): () => void {
    this.#all.add(listener);
    return () => this.#all.delete(listener);
  }

  /** Asks a running run to stop after its current step (it checkpoints first); `ConflictError` when it ended. */
  stop(id: string): RunStatus {
    const run = this.#run(id);
    if (ENDED.includes(run.status.state)) throw new ConflictError(`Run "${id}" is already ${run.status.state}`);
    run.abort.abort();
    return run.status;
  }

  /** Resolves with the final status when the run ends. */
  wait(id: string): Promise<RunStatus> {
    return this.#run(id).done;
  }

  /** Stops every run and waits for them, then for pending writes. */
  async close(): Promise<void> {
    for (const run of this.#runs.values()) run.abort.abort();
    await Promise.all([...this.#runs.values()].map((r) => r.done));
    await this.#store?.flush();
  }

  #run(id: string): Run {
    const run = this.#runs.get(id);
    if (run === undefined) throw new NotFoundError(`Run "${id}" does not exist`);
    return run;
  }
}
