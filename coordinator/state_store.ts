/**
 * The coordinator's persistent state in JetStream KV: one key per actor, node and placement group, the actors'
 * constructor arguments, and the scheduler's JSON. Written through on every change, read once at start, so a
 * restarted coordinator carries on where the previous one stopped.
 */
import { decode, encode } from "../shared/codec.ts";
import type { ActorRecord, NodeRecord, PlacementGroupRecord } from "../shared/protocol.ts";
import type { KvStore } from "../shared/transport.ts";

/** Everything loaded at start. */
export interface LoadedState {
  actors: ActorRecord[];
  args: Map<string, Uint8Array>;
  nodes: NodeRecord[];
  groups: PlacementGroupRecord[];
  scheduler: unknown;
}

/** Typed access to the state bucket. */
export class StateStore {
  readonly #kv: KvStore;

  constructor(kv: KvStore) {
    this.#kv = kv;
  }

  /** Reads every record; unreadable entries are logged and skipped rather than stopping the coordinator. */
  async load(): Promise<LoadedState> {
    const state: LoadedState = { actors: [], args: new Map(), nodes: [], groups: [], scheduler: null };
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
      if (kind === "actor") state.actors.push(decoded as ActorRecord);
      else if (kind === "args") state.args.set(id, decoded as Uint8Array);
      else if (kind === "node") state.nodes.push(decoded as NodeRecord);
      else if (kind === "pg") state.groups.push(decoded as PlacementGroupRecord);
      else if (kind === "scheduler") state.scheduler = decoded;
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

  /** Writes the scheduler's `toJSON()`. */
  putScheduler(json: unknown): Promise<void> {
    return this.#kv.put("scheduler", encode(json));
  }
}
