/**
 * The coordinator's persistent state in JetStream KV: one key per actor, node and placement group, the actors'
 * constructor arguments, and the scheduler's state, also one key per record (`sched.node.*`, `sched.pg.*`,
 * `sched.actor.*`). Written through on every change, read once at start, so a restarted coordinator carries on where
 * the previous one stopped. Every write is O(that record): nothing grows with the cluster.
 */
import { decode, encode } from "../shared/codec.ts";
import type { ActorRecord, NodeRecord, PlacementGroupRecord } from "../shared/protocol.ts";
import type { KvStore } from "../shared/transport.ts";
import type { SchedulerChanges, SchedulerEntries } from "./scheduler/mod.ts";

// Before per-record scheduler keys the whole scheduler state was one value under this key; read once to migrate.
const LEGACY_SCHEDULER_KEY = "scheduler";
const SCHED_KINDS = { node: "nodes", pg: "groups", actor: "actors" } as const;

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
}

/** Typed access to the state bucket. */
export class StateStore {
  readonly #kv: KvStore;

  constructor(kv: KvStore) {
    this.#kv = kv;
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
    };
    for (const key of await this.#kv.keys()) {
      // Run records share the bucket; the run manager reads them (coordinator/run/store.ts).
      if (key.startsWith("run.") || key === "leader") continue;
      const value = await this.#kv.get(key);
      if (value === null) continue;
      let decoded: unknown;
      try {
        decoded = key.startsWith("args.") ? value : decode(value);
      } catch (error) {
        console.error(`Skipping unreadable state key "${key}": ${(error as Error).message}`);
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
