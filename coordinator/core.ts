/**
 * The coordinator's state and the actor lifecycle on it: placing, launching, killing, crashing and restarting
 * actors, and persisting each change. `Coordinator` (serving), `supervision.ts` (nodes, heartbeats, reports) and
 * `recovery.ts` (restart) all work through one `CoordinatorCore`; every change runs inside `serial()`.
 *
 * Persistence order is what makes a restart safe (see `recovery.ts`): a placement is written (scheduler entry, then
 * actor record) before the start order goes out; a release is written after the actor record that explains it. A
 * crash between two writes therefore leaves a scheduler entry the records contradict, and recovery releases it.
 */
import { encode } from "../shared/mod.ts";
import { ActorDiedError, errorToWire, NotFoundError } from "../shared/mod.ts";
import {
  type ActorRecord,
  type AgentOrder,
  type LifecycleEvent,
  type LogLine,
  type NodeRecord,
  type PlacementGroupRecord,
  readReply,
} from "../shared/mod.ts";
import type { Subjects } from "../shared/mod.ts";
import type { Transport } from "../shared/mod.ts";
import { type PlaceResult, Scheduler } from "./scheduler/mod.ts";
import { placeOptions, toSchedulerRequest } from "./requests.ts";
import type { StateStore } from "./state_store.ts";
import type { ActorLogStore } from "./log_store.ts";
import { createLogger } from "../shared/mod.ts";

const log = createLogger({ component: "coordinator" });

// A crash this soon after the actor's last state change delays its restart by RESTART_DELAY_MS.
const QUICK_CRASH_MS = 2000;
const RESTART_DELAY_MS = 1000;
// Dead actors kept for inspection; a long training run spawns and kills many.
const MAX_DEAD = 200;
/** Actor states that hold (or are about to hold) a process and resources on a node. */
export const LIVE = new Set(["starting", "alive", "restarting", "stopping"]);

/** How an actor is named in messages. */
export function label(record: ActorRecord): string {
  return record.name ?? record.id;
}

/** The error a killed actor's callers get. */
export function killedError(record: ActorRecord): ActorDiedError {
  return new ActorDiedError(`Actor "${label(record)}" was killed`);
}

/** What the core needs from its owner. */
export interface CoreOptions {
  transport: Transport;
  store: StateStore;
  subjects: Subjects;
  epoch: number;
  logStore: ActorLogStore | undefined;
  /** Raises the fencing epoch above an epoch an agent reported (the lease's CAS); returns the new epoch. */
  raiseEpoch?: (above: number) => Promise<number>;
}

/** The coordinator's registry and actor lifecycle. Internal to the coordinator (not exported from mod.ts). */
export class CoordinatorCore {
  readonly transport: Transport;
  readonly store: StateStore;
  readonly subjects: Subjects;
  readonly logStore: ActorLogStore | undefined;
  /** The leader's fencing epoch, stamped on every order. May only grow (see `raiseEpoch`). */
  epoch: number;
  scheduler = new Scheduler();
  readonly actors = new Map<string, ActorRecord>();
  readonly args = new Map<string, Uint8Array>();
  readonly names = new Map<string, string>();
  readonly nodes = new Map<string, NodeRecord>();
  readonly groups = new Map<string, PlacementGroupRecord>();
  readonly logs = new Map<string, LogLine[]>();
  readonly missing = new Map<string, number>();
  /** The latest heartbeat not yet reconciled, per node (see `supervision.heartbeat`). */
  readonly beats = new Map<string, Map<string, number>>();
  // Monotonic times (performance.now()) for every timeout: a wall clock stepped by NTP or an operator must neither
  // declare live nodes dead nor keep dead ones alive. Records keep wall times for display only.
  readonly seen = new Map<string, number>();
  readonly changed = new Map<string, number>();
  stopped = false;
  /**
   * Until this monotonic time, actors that agents report and no record knows are adopted (their agents send the
   * records): the state was found empty or lost, and the agents' processes are the only truth left.
   */
  adoptUntil = -Infinity;
  readonly #raiseEpoch: (above: number) => Promise<number>;
  // Actor ids by the node their record names: heartbeats (every node, every second) look up only their node's actors.
  readonly #byNode = new Map<string, Set<string>>();
  readonly #nodeOf = new Map<string, string>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: CoreOptions) {
    this.transport = options.transport;
    this.store = options.store;
    this.subjects = options.subjects;
    this.epoch = options.epoch;
    this.logStore = options.logStore;
    // Without a lease (tests, single-process use) nothing else orders agents: just move above.
    this.#raiseEpoch = options.raiseEpoch ?? ((above) => Promise.resolve(above + 1));
  }

  /**
   * An agent has seen a higher epoch than ours: the lease key was recreated with a lower revision (JetStream data
   * lost), since a deposed leader cannot get here (the lease's CAS refuses it). Moves above it, so agents obey again.
   */
  async epochAbove(reported: number | undefined, nodeId: string): Promise<void> {
    if (reported === undefined || reported < this.epoch) return;
    if (reported === this.epoch) return;
    const before = this.epoch;
    this.epoch = Math.max(this.epoch, await this.#raiseEpoch(reported));
    log.warn(
      `node "${nodeId}" has seen leader epoch ${reported}, above ours (${before}): the JetStream state ` +
        `was probably lost and the lease recreated; epoch raised to ${this.epoch}`,
    );
  }

  /** Writes every record held in memory (after the bucket was recreated empty). */
  async rewriteStore(): Promise<number> {
    await this.store.mark();
    for (const node of this.nodes.values()) await this.store.putNode(node);
    for (const [id, args] of this.args) await this.store.putArgs(id, args);
    for (const record of this.actors.values()) await this.store.putActor(record);
    for (const group of this.groups.values()) await this.store.putGroup(group);
    this.scheduler.markAllChanged();
    await this.persistScheduler();
    return this.nodes.size + this.actors.size + this.groups.size;
  }

  /** Runs state changes one at a time: handlers await KV writes and agent requests between reading and writing. */
  serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Waits for the queued changes to finish. */
  drain(): Promise<void> {
    return this.#queue.then(() => {}, () => {});
  }

  /** Sends an order to one agent, stamped with this leader's fencing epoch. */
  order(nodeId: string, order: AgentOrder, timeoutMs = 5000): Promise<Uint8Array> {
    return this.transport.request(this.subjects.agent(nodeId), encode({ ...order, epoch: this.epoch }), { timeoutMs });
  }

  /** Keeps the by-node index in line with `record.nodeId` (`save` does it; call it for records set otherwise). */
  index(record: ActorRecord): void {
    const before = this.#nodeOf.get(record.id);
    if (before === record.nodeId) return;
    if (before !== undefined) this.#byNode.get(before)?.delete(record.id);
    if (record.nodeId === undefined || !this.actors.has(record.id)) {
      this.#nodeOf.delete(record.id);
      return;
    }
    this.#nodeOf.set(record.id, record.nodeId);
    let ids = this.#byNode.get(record.nodeId);
    if (ids === undefined) this.#byNode.set(record.nodeId, ids = new Set());
    ids.add(record.id);
  }

  /** The records naming `nodeId` (a copy: callers change records while going through them). */
  onNode(nodeId: string): ActorRecord[] {
    return [...this.#byNode.get(nodeId) ?? []].map((id) => this.actors.get(id)!).filter((r) => r !== undefined);
  }

  /** Writes an actor record and announces its new state. */
  async save(record: ActorRecord): Promise<void> {
    this.index(record);
    record.updatedAt = Math.max(Date.now(), record.updatedAt + 1);
    this.changed.set(record.id, performance.now());
    await this.store.putActor(record);
    const event: LifecycleEvent = { type: "state", actor: record };
    await this.transport.publish(this.subjects.lifecycle(record.id), encode(event));
  }

  /** Publishes the current record of every actor not dead (after a reconnect: events sent meanwhile were lost). */
  async announceAll(): Promise<void> {
    for (const record of this.actors.values()) {
      if (record.state === "dead") continue;
      const event: LifecycleEvent = { type: "state", actor: record };
      await this.transport.publish(this.subjects.lifecycle(record.id), encode(event));
    }
  }

  /** Writes the scheduler records changed since the last call (one KV key each). */
  persistScheduler(): Promise<void> {
    return this.store.putSchedulerChanges(this.scheduler.takeChanges());
  }

  /** Monotonic ms since the coordinator last changed an actor's record (Infinity when never, in this process). */
  sinceChange(actorId: string): number {
    const at = this.changed.get(actorId);
    return at === undefined ? Infinity : performance.now() - at;
  }

  nodeAlive(nodeId: string): boolean {
    return this.nodes.get(nodeId)?.state === "alive";
  }

  /** Sends the start order for a placed actor (its placement is already persisted). */
  async launch(record: ActorRecord, nodeId: string, gpuIds: number[]): Promise<void> {
    record.state = record.restarts > 0 ? "restarting" : "starting";
    record.nodeId = nodeId;
    record.gpuIds = gpuIds;
    delete record.pendingReason;
    await this.save(record);
    try {
      readReply(
        await this.order(nodeId, { op: "start", actor: record, args: this.args.get(record.id) ?? encode([]) }),
        "start",
      );
    } catch (error) {
      log.warn(`cannot start actor "${record.id}" on node "${nodeId}": ${(error as Error).message}`);
      // The node is gone or unreachable; the heartbeat check will remove it and reschedule the actor.
    }
  }

  /** Stops an actor (by name or id); one that holds no process dies at once. */
  async kill(id: string, graceful: boolean): Promise<ActorRecord> {
    const record = this.actors.get(this.names.get(id) ?? id);
    if (record === undefined) throw new NotFoundError(`Cannot kill actor "${id}": no such actor`);
    if (record.state === "dead" || record.state === "stopping") return record;
    if (record.state === "pending" || record.nodeId === undefined || !this.nodeAlive(record.nodeId)) {
      await this.died(record, killedError(record));
      return record;
    }
    record.state = "stopping";
    await this.save(record);
    await this.order(record.nodeId, { op: "stop", actor: record.id, incarnation: record.incarnation, graceful })
      .catch(() => this.died(record, killedError(record)));
    return record;
  }

  /** Marks an actor dead for good and frees what it held. */
  async died(record: ActorRecord, reason: Error): Promise<void> {
    this.scheduler.release(record.id);
    record.state = "dead";
    record.deathReason = errorToWire(reason);
    delete record.pendingReason;
    this.args.delete(record.id);
    await this.save(record);
    await this.persistScheduler();
    await this.store.deleteArgs(record.id).catch(() => {});
    await this.#forgetOldDead();
    await this.placePending();
  }

  /** Keeps the newest `MAX_DEAD` dead records (for `getActor` errors and the API); older ones are dropped. */
  async #forgetOldDead(): Promise<void> {
    const dead = [...this.actors.values()].filter((r) => r.state === "dead");
    if (dead.length <= MAX_DEAD) return;
    dead.sort((a, b) => a.updatedAt - b.updatedAt);
    for (const record of dead.slice(0, dead.length - MAX_DEAD)) {
      this.actors.delete(record.id);
      this.index(record);
      this.changed.delete(record.id);
      this.logs.delete(record.id);
      await this.logStore?.forget(record.id).catch((error) =>
        log.warn(`cannot drop the logs of actor "${record.id}": ${(error as Error).message}`)
      );
      if (record.name && this.names.get(record.name) === record.id) this.names.delete(record.name);
      await this.store.deleteActor(record.id).catch(() => {});
    }
  }

  /** An actor's process is gone without being asked to stop: restart it (if allowed) anywhere that fits. */
  async crashed(record: ActorRecord, reason: string): Promise<void> {
    const { maxRestarts } = record.options;
    if (maxRestarts !== -1 && record.restarts >= maxRestarts) {
      await this.died(record, new ActorDiedError(`Actor "${label(record)}" died: ${reason}`));
      return;
    }
    if (!this.args.has(record.id)) {
      const why = "its constructor arguments were lost with the JetStream state, so it cannot be restarted";
      await this.died(record, new ActorDiedError(`Actor "${label(record)}" died (${reason}); ${why}`));
      return;
    }
    this.scheduler.release(record.id);
    // An actor that dies right after starting (a restore that keeps failing, a crash on start) would otherwise
    // restart in a tight loop, a process per iteration: wait a little before the next attempt.
    const quick = this.sinceChange(record.id) < QUICK_CRASH_MS;
    record.restarts++;
    record.incarnation++;
    log.warn(`restarting actor "${label(record)}" (${reason}), restart ${record.restarts}`);
    record.state = "restarting";
    delete record.nodeId;
    await this.save(record);
    // The release must reach KV too: a successor loading a scheduler that still holds it would leak it.
    await this.persistScheduler();
    if (!quick) {
      await this.place(record);
      return;
    }
    const incarnation = record.incarnation;
    setTimeout(() => {
      void this.serial(async () => {
        if (this.stopped || record.incarnation !== incarnation || record.state !== "restarting") return;
        if (!record.nodeId && !this.scheduled(record.id)) await this.place(record);
      });
    }, RESTART_DELAY_MS);
  }

  /** Places (or queues) an actor that is in no scheduler structure, then starts it if placed. */
  async place(record: ActorRecord): Promise<void> {
    await this.settle(
      record,
      this.scheduler.placeOrEnqueue(record.id, toSchedulerRequest(record), placeOptions(record)),
    );
  }

  /** Persists the attempt, then starts a placed actor or records why it waits. */
  async settle(record: ActorRecord, result: PlaceResult): Promise<void> {
    await this.persistScheduler();
    if (result.ok) {
      await this.launch(record, result.nodeId, result.gpuIds);
    } else {
      record.pendingReason = result.reason;
      await this.save(record);
    }
  }

  /** Whether the scheduler has the actor placed or queued. */
  scheduled(actorId: string): boolean {
    return this.scheduler.placement(actorId) !== undefined || this.scheduler.pending().some((p) => p.id === actorId);
  }

  /** Places queued work that fits now (persisted before the start orders) and refreshes pending reasons. */
  async placePending(): Promise<void> {
    const placed = this.scheduler.retryPending();
    await this.persistScheduler();
    for (const placement of placed.actors) {
      const record = this.actors.get(placement.actorId);
      if (record !== undefined) await this.launch(record, placement.nodeId, placement.gpuIds);
    }
    const pending = new Map(this.scheduler.pending().map((p) => [p.id, p.reason]));
    for (const record of this.actors.values()) {
      const reason = pending.get(record.id);
      if (reason !== undefined && reason !== record.pendingReason) {
        record.pendingReason = reason;
        await this.save(record);
      }
    }
    await this.syncGroups();
  }

  /** Brings the placement-group records in line with the scheduler's view. */
  async syncGroups(): Promise<void> {
    for (const record of this.groups.values()) {
      const view = this.scheduler.placementGroup(record.id);
      if (view === undefined || record.state === "removed") continue;
      const state = view.state === "created" ? "created" : "pending";
      const nodes = view.bundles.map((b) => b.nodeId ?? "");
      if (state === record.state && nodes.join() === record.nodes?.join() && view.reason === record.pendingReason) {
        continue;
      }
      record.state = state;
      record.nodes = nodes;
      if (view.reason !== undefined) record.pendingReason = view.reason;
      else delete record.pendingReason;
      await this.store.putGroup(record);
    }
  }
}
