/**
 * The coordinator's persistent state in JetStream KV: one key per actor, node and placement group, the actors'
 * constructor arguments, and the scheduler's state, also one key per record (`sched.node.*`, `sched.pg.*`,
 * `sched.actor.*`). Written through on every change, read once at start, so a restarted coordinator carries on where
 * the previous one stopped. Every write is O(that record): nothing grows with the cluster.
 */
import { decode, encode } from "../shared/mod.ts";
import { createLogger } from "../shared/mod.ts";
import type { ActorRecord, NodeRecord, PlacementGroupRecord } from "../shared/mod.ts";
import type { KvStore } from "../shared/mod.ts";
import type { SchedulerChanges, SchedulerEntries } from "./scheduler/mod.ts";

const log = createLogger({ component: "state" });

// Before per-record scheduler keys the whole scheduler state was one value under this key; read once to migrate.
const LEGACY_SCHEDULER_KEY = "scheduler";
const SCHED_KINDS = { node: "nodes", pg: "groups", actor: "actors" } as const;
// Written once per bucket: its absence in a bucket the coordinator wrote means the JetStream data was lost.
const MARKER_KEY = "meta.state";
// Keys read concurrently at start.
const LOAD_BATCH = 64;
// JetStream's "stream not found": the bucket itself is gone.
const STREAM_NOT_FOUND = 10059;

/** Options for {@link StateStore}. */
export interface StateStoreOptions {
  /** Creates the bucket again (e.g. `() => transport.kv(bucket)`) after its JetStream data was lost. */
  recreate?: () => Promise<unknown>;
}

/** Everything loaded at start. */
export interface LoadedState {
  actors: ActorRecord[];
  args: Map<string, Uint8Array>;
  nodes: NodeRecord[];
  groups: PlacementGroupRecord[];
  /** Per-record scheduler entries (see `assembleScheduler`). */
  scheduler: SchedulerEntries;
  /** The pre-per-record whole-state value, when a bucket written by an older coordinator still holds one. */
  legacyScheduler: unknown;
  /** Whether the bucket carries the coordinator's marker (false: a new bucket, or one recreated after data loss). */
  marked: boolean;
}

/** Typed access to the state bucket. */
export class StateStore {
  readonly #kv: KvStore;
  readonly #recreate: (() => Promise<unknown>) | undefined;

  constructor(kv: KvStore, options: StateStoreOptions = {}) {
    this.#kv = kv;
    this.#recreate = options.recreate;
  }

  /** Writes the marker whose absence later reveals lost JetStream data. */
  mark(): Promise<void> {
    return this.#kv.put(MARKER_KEY, encode({ markedAt: Date.now() }));
  }

  /**
   * False when the bucket is gone or lost its marker (nats-server restarted without its store); true otherwise,
   * including when NATS is unreachable (that is not data loss, just wait).
   */
  async intact(): Promise<boolean> {
    try {
      return (await this.#kv.keys("meta.")).includes(MARKER_KEY);
    } catch (error) {
      return (error as { code?: unknown }).code !== STREAM_NOT_FOUND && !/stream not found/i.test(String(error));
    }
  }

  /** Creates the bucket again after data loss (with the `recreate` option); throws when it cannot. */
  async recreate(): Promise<void> {
    if (this.#recreate === undefined) throw new Error("this state store has no way to recreate its bucket");
    await this.#recreate();
  }

  /** Reads every record; unreadable entries are logged and skipped rather than stopping the coordinator. */
  async load(): Promise<LoadedState> {
    const state: LoadedState = {
      actors: [],
      args: new Map(),
      nodes: [],
      groups: [],
      scheduler: { nodes: [], groups: [], actors: [] },
      legacyScheduler: null,
      marked: false,
    };
    // Run records share the bucket; the run manager reads them (coordinator/run/store.ts).
    const keys = (await this.#kv.keys()).filter((key) => !key.startsWith("run.") && key !== "leader");
    state.marked = keys.includes(MARKER_KEY);
    // Many reads in flight: a cluster of thousands of actors has tens of thousands of keys, and one round trip
    // each, one after the other, would make a restart take seconds per thousand.
    const values = new Map<string, Uint8Array | null>();
    for (let i = 0; i < keys.length; i += LOAD_BATCH) {
      const batch = keys.slice(i, i + LOAD_BATCH).filter((key) => key !== MARKER_KEY);
      const read = await Promise.all(batch.map((key) => this.#kv.get(key)));
      batch.forEach((key, j) => values.set(key, read[j]!));
    }
    for (const [key, value] of values) {
      if (value === null) continue;
      let decoded: unknown;
      try {
        decoded = key.startsWith("args.") ? value : decode(value);
      } catch (error) {
        log.warn(`Skipping unreadable state key "${key}": ${(error as Error).message}`);
        continue;
      }
      const [kind, ...rest] = key.split(".");
      const id = rest.join(".");
      if (kind === "sched") {
        const list = SCHED_KINDS[rest[0] as keyof typeof SCHED_KINDS];
        if (list !== undefined) state.scheduler[list].push(decoded);
      } else if (kind === "actor") state.actors.push(decoded as ActorRecord);
      else if (kind === "args") state.args.set(id, decoded as Uint8Array);
      else if (kind === "node") state.nodes.push(decoded as NodeRecord);
      else if (kind === "pg") state.groups.push(decoded as PlacementGroupRecord);
      else if (key === LEGACY_SCHEDULER_KEY) state.legacyScheduler = decoded;
    }
    return state;
  }

  /** Writes an actor record. */
  putActor(record: ActorRecord): Promise<void> {
    return this.#kv.put(`actor.${record.id}`, encode(record));
  }

  /** Writes an actor's encoded constructor arguments (kept for restarts). */
  putArgs(id: string, args: Uint8Array): Promise<void> {
    return this.#kv.put(`args.${id}`, args);
  }

  /** Drops an actor record (forgotten dead actors). */
  deleteActor(id: string): Promise<void> {
    return this.#kv.delete(`actor.${id}`);
  }

  /** Drops an actor's constructor arguments. */
  deleteArgs(id: string): Promise<void> {
    return this.#kv.delete(`args.${id}`);
  }

  /** Writes a node record. */
  putNode(record: NodeRecord): Promise<void> {
    return this.#kv.put(`node.${record.id}`, encode(record));
  }

  /** Writes a placement group record. */
  putGroup(record: PlacementGroupRecord): Promise<void> {
    return this.#kv.put(`pg.${record.id}`, encode(record));
  }

  /**
   * Persists what the scheduler changed (`Scheduler.takeChanges()`). Puts go nodes, groups, actors; deletes go
   * actors, groups, nodes: an entry is only ever written after what it names, so a crash part-way leaves nothing
   * dangling that `assembleScheduler` would have to drop (it still does, should a write have been lost).
   */
  async putSchedulerChanges(changes: SchedulerChanges): Promise<void> {
    const key = (kind: string, id: string) => `sched.${kind}.${id}`;
    for (const [id, spec] of changes.nodes) if (spec !== null) await this.#kv.put(key("node", id), encode(spec));
    for (const [id, group] of changes.groups) if (group !== null) await this.#kv.put(key("pg", id), encode(group));
    for (const [id, entry] of changes.actors) {
      if (entry !== null) await this.#kv.put(key("actor", id), encode(entry));
      else await this.#kv.delete(key("actor", id));
    }
    for (const [id, group] of changes.groups) if (group === null) await this.#kv.delete(key("pg", id));
    for (const [id, spec] of changes.nodes) if (spec === null) await this.#kv.delete(key("node", id));
  }

  /** Drops the whole-state scheduler value of an older coordinator once its content is in per-record keys. */
  deleteLegacyScheduler(): Promise<void> {
    return this.#kv.delete(LEGACY_SCHEDULER_KEY);
  }
}
