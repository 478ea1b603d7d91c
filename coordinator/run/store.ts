/**
 * Durable runs: each run's record (status + config) is a key `run.<id>` in the cluster's state bucket, written with
 * compare-and-swap so a deposed coordinator cannot overwrite its successor's view; its metric points and state
 * transitions are appended to the cluster's run stream (`coop.<cluster>.runs.<id>.metrics|events`). A new leader
 * reads both back and lists every run with its full history.
 *
 * Writes are coalesced per run: a status that changes many times while a write is in flight is written once more
 * with its latest value, so the KV never lags by more than one round trip and never falls behind in order.
 */
import type { JobConfig } from "../../rl/mod.ts";
import { decode, encode } from "../../shared/mod.ts";
import { createLogger } from "../../shared/mod.ts";
import { checkToken } from "../../shared/mod.ts";
import { KvConflictError, type KvStore, type MessageStream, type Transport } from "../../shared/mod.ts";
import type { MetricPoint, RunState, RunStatus } from "./job.ts";

/** KV key prefix of run records in the state bucket. */
export const RUN_KEY_PREFIX = "run.";

/** What the KV holds per run. */
export interface RunRecord {
  status: RunStatus;
  config: JobConfig;
}

/** One state transition, as stored in the run's event subject. */
export interface RunTransition {
  /** Unix ms. */
  ts: number;
  state: RunState;
  step: number;
  note?: string;
}

/** A run read back from JetStream. */
export interface StoredRun {
  record: RunRecord;
  /** Metric points, one per step (a step recorded twice — after a resume — keeps its latest point). */
  metrics: MetricPoint[];
  transitions: RunTransition[];
}

/** Stream name holding a cluster's run metrics and transitions. */
export function runStreamName(cluster: string): string {
  return `COOP_RUNS_${cluster}`;
}

const log = createLogger({ component: "runs" });

/** Reads and writes durable runs of one cluster. */
export class RunStore {
  readonly #kv: KvStore;
  readonly #stream: MessageStream;
  readonly #root: string;
  readonly #writers = new Map<string, RecordWriter>();

  constructor(kv: KvStore, stream: MessageStream, cluster: string) {
    this.#kv = kv;
    this.#stream = stream;
    this.#root = `coop.${cluster}.runs`;
  }

  /** Opens the state bucket and the run stream of `cluster`. */
  static async open(transport: Transport, cluster: string, stateBucket: string): Promise<RunStore> {
    checkToken("cluster name", cluster);
    const kv = await transport.kv(stateBucket);
    const stream = await transport.stream({
      name: runStreamName(cluster),
      subjects: [`coop.${cluster}.runs.*.*`],
      // A year of runs; a run's history is small (one point per step).
      maxAgeMs: 365 * 24 * 3600_000,
      maxBytes: 1024 * 1024 * 1024,
    });
    return new RunStore(kv, stream, cluster);
  }

  #subject(id: string, kind: "metrics" | "events"): string {
    return `${this.#root}.${checkToken("run id", id)}.${kind}`;
  }

  /** Writes the run's record (coalesced; resolves once this or a newer value is stored). */
  save(record: RunRecord): Promise<void> {
    let writer = this.#writers.get(record.status.id);
    if (writer === undefined) {
      writer = new RecordWriter(this.#kv, `${RUN_KEY_PREFIX}${record.status.id}`);
      this.#writers.set(record.status.id, writer);
    }
    return writer.save(record);
  }

  /** Appends a metric point to the run's history. */
  async appendMetric(id: string, point: MetricPoint): Promise<void> {
    await this.#stream.append(this.#subject(id, "metrics"), encode(point));
  }

  /** Appends a state transition. */
  async appendTransition(id: string, transition: RunTransition): Promise<void> {
    await this.#stream.append(this.#subject(id, "events"), encode(transition));
  }

  /** Every stored run (records that cannot be decoded are logged and skipped). */
  async loadAll(): Promise<StoredRun[]> {
    const out: StoredRun[] = [];
    for (const key of await this.#kv.keys(RUN_KEY_PREFIX)) {
      const entry = await this.#kv.entry(key);
      if (entry === null) continue;
      let record: RunRecord;
      try {
        record = decode(entry.value) as RunRecord;
        if (typeof record?.status?.id !== "string") throw new Error("no status.id");
      } catch (error) {
        log.warn(`Skipping unreadable run record "${key}": ${(error as Error).message}`);
        continue;
      }
      const writer = new RecordWriter(this.#kv, key, entry.revision);
      this.#writers.set(record.status.id, writer);
      out.push({
        record,
        metrics: await this.#metrics(record.status.id),
        transitions: await this.#read<RunTransition>(this.#subject(record.status.id, "events")),
      });
    }
    return out;
  }

  async #metrics(id: string): Promise<MetricPoint[]> {
    const byStep = new Map<number, MetricPoint>();
    for (const point of await this.#read<MetricPoint>(this.#subject(id, "metrics"))) {
      if (typeof point?.step === "number") byStep.set(point.step, point);
    }
    return [...byStep.values()].sort((a, b) => a.step - b.step);
  }

  async #read<T>(subject: string): Promise<T[]> {
    const out: T[] = [];
    for await (const message of this.#stream.read(subject)) {
      try {
        out.push(decode(message.data) as T);
      } catch {
        // A stray publish on the subject is not a run message.
      }
    }
    return out;
  }

  /** Waits for every pending record write. */
  async flush(): Promise<void> {
    await Promise.all([...this.#writers.values()].map((w) => w.idle()));
  }
}

/** Serialised, coalesced compare-and-swap writes of one key. */
class RecordWriter {
  readonly #kv: KvStore;
  readonly #key: string;
  #revision: number | undefined;
  #latest: RunRecord | undefined;
  #running: Promise<void> | undefined;
  #lost = false;

  constructor(kv: KvStore, key: string, revision?: number) {
    this.#kv = kv;
    this.#key = key;
    this.#revision = revision;
  }

  save(record: RunRecord): Promise<void> {
    // Encoded now: the status object keeps changing under us while the write waits.
    this.#latest = structuredClone(record);
    this.#running ??= this.#drain().finally(() => this.#running = undefined);
    return this.#running;
  }

  idle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  async #drain(): Promise<void> {
    while (this.#latest !== undefined && !this.#lost) {
      const value = encode(this.#latest);
      this.#latest = undefined;
      try {
        this.#revision = this.#revision === undefined
          ? await this.#kv.create(this.#key, value)
          : await this.#kv.update(this.#key, value, this.#revision);
      } catch (error) {
        if (error instanceof KvConflictError) {
          // Someone else (a newer leader) owns this run now: stop writing rather than clobber its record.
          this.#lost = true;
          log.warn(`Run record "${this.#key}" was changed by another coordinator; no longer writing it`);
          return;
        }
        log.warn(`Cannot write run record "${this.#key}": ${(error as Error).message}`);
      }
    }
  }
}
