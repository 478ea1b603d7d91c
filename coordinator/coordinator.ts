/**
 * The coordinator: registry of nodes and actors, placement through the Scheduler, supervision (heartbeats,
 * process exits, restarts with `restore`), and state in JetStream KV. It is not on the call path: clients call
 * actor hosts directly, so calls keep flowing while the coordinator restarts.
 *
 * All state changes run one at a time through `#serial`, because handlers await KV writes and agent requests
 * between reading and writing state.
 */
import { encode } from "../shared/codec.ts";
import {
  ActorDiedError,
  BadArgumentsError,
  errorFromWire,
  errorToWire,
  NotFoundError,
  PlacementError,
} from "../shared/errors.ts";
import {
  type ActorRecord,
  type ActorReport,
  actorReportSchema,
  adminRequestSchema,
  type AgentOrder,
  checkSender,
  type CoordinatorRequest,
  coordinatorRequestSchema,
  encodeCall,
  type Heartbeat,
  type HeartbeatReply,
  heartbeatSchema,
  type LifecycleEvent,
  type LogBatch,
  logBatchSchema,
  type LogLine,
  type NodeInfo,
  type NodeRecord,
  nodeRequestSchema,
  parseMessage,
  PING_METHOD,
  type PlacementGroupRecord,
  readReply,
} from "../shared/protocol.ts";
import { listenTo, serveRequests } from "../shared/serving.ts";
import { type Subjects, subjects, subjectToken } from "../shared/subjects.ts";
import type { Transport, TransportSubscription } from "../shared/transport.ts";
import { type PlaceResult, Scheduler } from "./scheduler.ts";
import { placeOptions, toNodeRecord, toSchedulerNode, toSchedulerRequest, toSchedulerResources } from "./requests.ts";
import { StateStore } from "./state_store.ts";
import type { ActorLogStore } from "./log_store.ts";

/** Options for {@link Coordinator}. */
export interface CoordinatorOptions {
  cluster?: string;
  /** A node is declared dead after this long without a heartbeat (ms). Default 5000. */
  nodeTimeoutMs?: number;
  /** Recent log lines kept per actor in memory when there is no `logStore`. Default 500. */
  logLines?: number;
  /** Durable actor logs (JetStream); without one, logs live in this process's memory only. */
  logStore?: ActorLogStore;
  /** The leader's fencing epoch (`Lease.epoch`), sent with every order to agents. Default 0 (no lease). */
  epoch?: number;
}

// Constructor arguments are kept in KV for restarts; KV values are bounded by the server's max_payload.
const MAX_ARGS_BYTES = 512 * 1024;
// A crash this soon after the actor's last state change delays its restart by RESTART_DELAY_MS.
const QUICK_CRASH_MS = 2000;
const RESTART_DELAY_MS = 1000;
// How long after a start order an actor may be missing from its agent's heartbeats.
const START_GRACE_MS = 5000;
// Dead actors kept for inspection; a long training run spawns and kills many.
const MAX_DEAD = 200;
const LIVE = new Set(["starting", "alive", "restarting", "stopping"]);

type SpawnRequest = Extract<CoordinatorRequest, { op: "spawn" }>;

function label(record: ActorRecord): string {
  return record.name ?? record.id;
}

function killedError(record: ActorRecord): ActorDiedError {
  return new ActorDiedError(`Actor "${label(record)}" was killed`);
}

/** A running coordinator. */
export class Coordinator {
  readonly subjects: Subjects;
  readonly startedAt = Date.now();
  readonly #transport: Transport;
  readonly #store: StateStore;
  readonly #nodeTimeoutMs: number;
  readonly #logLines: number;
  readonly #logStore: ActorLogStore | undefined;
  readonly #epoch: number;
  #scheduler = new Scheduler();
  readonly #actors = new Map<string, ActorRecord>();
  readonly #args = new Map<string, Uint8Array>();
  readonly #names = new Map<string, string>();
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #groups = new Map<string, PlacementGroupRecord>();
  readonly #logs = new Map<string, LogLine[]>();
  readonly #missing = new Map<string, number>();
  // Monotonic times (performance.now()) for every timeout: a wall clock stepped by NTP or an operator must neither
  // declare live nodes dead nor keep dead ones alive. Records keep wall times for display only.
  readonly #seen = new Map<string, number>();
  readonly #changed = new Map<string, number>();
  readonly #subscriptions: TransportSubscription[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  #resolveExit = () => {};
  /** Resolves when the cluster was shut down (or `stop()` was called). */
  readonly exited = new Promise<void>((resolve) => this.#resolveExit = resolve);

  constructor(transport: Transport, store: StateStore, options: CoordinatorOptions = {}) {
    this.#transport = transport;
    this.#store = store;
    this.subjects = subjects(options.cluster ?? "default");
    this.#nodeTimeoutMs = options.nodeTimeoutMs ?? 5000;
    this.#logLines = options.logLines ?? 500;
    this.#logStore = options.logStore;
    this.#epoch = options.epoch ?? 0;
  }

  /** Sends an order to one agent, stamped with this leader's fencing epoch. */
  #order(nodeId: string, order: AgentOrder, timeoutMs = 5000): Promise<Uint8Array> {
    return this.#transport.request(this.subjects.agent(nodeId), encode({ ...order, epoch: this.#epoch }), {
      timeoutMs,
    });
  }

  /** Loads state from KV, then starts serving. */
  async start(): Promise<void> {
    const state = await this.#store.load();
    if (state.scheduler !== null) {
      try {
        this.#scheduler = Scheduler.fromJSON(state.scheduler);
      } catch (error) {
        console.error(`Coordinator: ignoring unreadable scheduler state: ${(error as Error).message}`);
      }
    }
    const now = Date.now();
    for (const node of state.nodes) {
      // Every node gets a fresh grace period: heartbeats sent while no coordinator ran were lost.
      if (node.state === "alive") node.lastHeartbeat = now;
      this.#seen.set(node.id, performance.now());
      this.#nodes.set(node.id, node);
    }
    for (const actor of state.actors) {
      this.#changed.set(actor.id, performance.now());
      this.#actors.set(actor.id, actor);
      if (actor.name && actor.state !== "dead") this.#names.set(actor.name, actor.id);
    }
    for (const [id, args] of state.args) this.#args.set(id, args);
    this.#reconcileScheduler();
    for (const group of state.groups) this.#groups.set(group.id, group);
    if (state.actors.length > 0 || state.nodes.length > 0) {
      console.error(`Coordinator: recovered ${state.nodes.length} nodes and ${state.actors.length} actors from KV`);
    }

    // Node-bound subjects carry the sender's node id as their last token; records naming another node are refused.
    this.#serve(this.subjects.coordinator, (data) => this.#handle(data));
    this.#serve(this.subjects.admin, (data) => {
      parseMessage(adminRequestSchema, data, "admin request"); // shutdown is the only one
      return this.#shutdown();
    });
    this.#serve(this.subjects.nodeAll, (data, subject) => this.#nodeRequest(data, subjectToken(subject, -1)));
    this.#serve(this.subjects.heartbeatAll, (data, subject) => {
      const beat = parseMessage(heartbeatSchema, data, "heartbeat");
      checkSender("a heartbeat", beat.nodeId, subjectToken(subject, -1));
      return this.#heartbeat(beat);
    });
    this.#listen(this.subjects.reportAll, (data, subject) => {
      const report = parseMessage(actorReportSchema, data, "actor report");
      if (report.actorId !== subjectToken(subject, -2)) {
        throw new BadArgumentsError(`Refused an actor report: it names "${report.actorId}" on ${subject}`);
      }
      return this.#lifecycle(report, subjectToken(subject, -1));
    });
    if (this.#logStore === undefined) {
      this.#listen(this.subjects.logsAll, (data, subject) => {
        const batch = parseMessage(logBatchSchema, data, "log batch");
        if (batch.actorId !== subjectToken(subject, -1)) {
          throw new BadArgumentsError(`Refused a log batch: it names "${batch.actorId}" on ${subject}`);
        }
        this.#collectLogs(batch);
      });
    }
    this.#timer = setInterval(
      () => void this.#serial(() => this.#checkNodes()),
      Math.min(1000, this.#nodeTimeoutMs / 3),
    );
    void (async () => {
      for await (const event of this.#transport.status()) {
        if (event.type === "reconnect") {
          // While we were cut off nobody's heartbeat could reach us: do not declare nodes dead for that.
          for (const node of this.#nodes.values()) {
            node.lastHeartbeat = Date.now();
            this.#seen.set(node.id, performance.now());
          }
        }
      }
    })().catch(() => {});
    await this.#transport.flush();
    await this.#serial(async () => {
      // Actors waiting for a delayed restart when the previous coordinator stopped are in no scheduler structure.
      for (const record of this.#actors.values()) {
        if (record.state === "restarting" && !record.nodeId && !this.#scheduled(record.id)) {
          await this.#place(record);
        }
      }
      await this.#placePending();
    });
  }

  /**
   * After a restart the actor records are the truth: the scheduler's JSON is written after them and may lag (a
   * crash between the two writes). Placements and queue entries of actors that are dead, unknown, or recorded on
   * another node are released, so their resources are not lost for good.
   */
  #reconcileScheduler(): void {
    const stale: string[] = [];
    for (const placement of this.#scheduler.placements()) {
      const record = this.#actors.get(placement.actorId);
      if (record === undefined || !LIVE.has(record.state) || record.nodeId !== placement.nodeId) {
        stale.push(placement.actorId);
      }
    }
    for (const queued of this.#scheduler.pending()) {
      if (queued.kind !== "actor") continue;
      const record = this.#actors.get(queued.id);
      if (record === undefined || record.state === "dead") stale.push(queued.id);
    }
    for (const id of stale) this.#scheduler.release(id);
    if (stale.length > 0) console.error(`Coordinator: released ${stale.length} stale scheduler entries after restart`);
  }

  /** Stops serving (the cluster's actors and agents keep running; a new coordinator can take over). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    await this.#queue.catch(() => {});
    this.#resolveExit();
  }

  /** Snapshot for the control API and the status table. */
  snapshot(): { nodes: NodeRecord[]; actors: ActorRecord[]; groups: PlacementGroupRecord[] } {
    return {
      nodes: [...this.#nodes.values()],
      actors: [...this.#actors.values()],
      groups: [...this.#groups.values()],
    };
  }

  /** One actor's record, by name or id. */
  actor(nameOrId: string): { actor: ActorRecord } | undefined {
    const actor = this.#actors.get(this.#names.get(nameOrId) ?? nameOrId);
    return actor === undefined ? undefined : { actor };
  }

  /** An actor's last `limit` log lines (default all kept), oldest first; [] for an unknown actor. */
  async logs(actorId: string, limit = this.#logLines): Promise<LogLine[]> {
    if (this.#logStore !== undefined) return await this.#logStore.read(actorId, limit);
    const lines = this.#logs.get(actorId) ?? [];
    return lines.slice(Math.max(0, lines.length - limit));
  }

  /** The scheduler's view of node capacity and use. */
  usage(): ReturnType<Scheduler["nodes"]> {
    return this.#scheduler.nodes();
  }

  #serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  #serve(subject: string, handler: (data: Uint8Array, subject: string) => Promise<unknown> | unknown): void {
    this.#subscriptions.push(serveRequests(this.#transport, subject, handler, {
      // Unknown actors and groups are the caller's business, not the coordinator's.
      onError: (error) => {
        if (!(error instanceof NotFoundError)) console.error(`Coordinator: ${(error as Error).message}`);
      },
    }));
  }

  #listen(subject: string, handler: (data: Uint8Array, subject: string) => Promise<void> | void): void {
    this.#subscriptions.push(listenTo(this.#transport, subject, handler, "Coordinator"));
  }

  #handle(data: Uint8Array): Promise<unknown> | unknown {
    const request = parseMessage(coordinatorRequestSchema, data, "coordinator request");
    switch (request.op) {
      case "spawn":
        return this.#serial(() => this.#spawn(request));
      case "kill":
        return this.#serial(() => this.#kill(request.actor, request.graceful ?? true));
      case "getActor": {
        const found = this.actor(request.nameOrId);
        if (found === undefined) throw new NotFoundError(`No actor named "${request.nameOrId}"`);
        return found.actor;
      }
      case "actors":
        return [...this.#actors.values()];
      case "nodes":
        return [...this.#nodes.values()];
      case "logs":
        return this.logs(request.actor);
      case "createPlacementGroup":
        return this.#serial(() => this.#createGroup(request.bundles, request.strategy, request.name));
      case "getPlacementGroup":
        return this.#group(request.id);
      case "removePlacementGroup":
        return this.#serial(() => this.#removeGroup(request.id));
    }
  }

  /** Register and deregister, each about the node whose subject it came on. */
  #nodeRequest(data: Uint8Array, subjectNode: string): Promise<unknown> {
    const request = parseMessage(nodeRequestSchema, data, "node request");
    if (request.op === "register") {
      checkSender("a registration", request.node.id, subjectNode);
      return this.#serial(() => this.#register(request.node));
    }
    checkSender("a deregistration", request.nodeId, subjectNode);
    return this.#serial(() => this.#nodeLost(request.nodeId, "left the cluster"));
  }

  async #spawn(request: SpawnRequest): Promise<ActorRecord> {
    const label = request.name ?? request.className;
    if (request.args.byteLength > MAX_ARGS_BYTES) {
      throw new BadArgumentsError(
        `Cannot spawn "${label}": constructor arguments are ${request.args.byteLength} bytes (limit ${MAX_ARGS_BYTES}); ` +
          "pass large tensors through a method call or the blob store",
      );
    }
    if (request.name !== undefined) {
      const existing = this.#actors.get(this.#names.get(request.name) ?? "");
      if (existing !== undefined && existing.state !== "dead") {
        throw new BadArgumentsError(`Cannot spawn "${request.name}": an actor with that name exists (${existing.id})`);
      }
    }
    const now = Date.now();
    const record: ActorRecord = {
      id: `a-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
      className: request.className,
      state: "pending",
      options: request.options as ActorRecord["options"],
      idempotent: request.idempotent ?? [],
      incarnation: 0,
      restarts: 0,
      createdAt: now,
      updatedAt: now,
    };
    if (request.name !== undefined) record.name = request.name;
    const result = this.#scheduler.placeOrEnqueue(record.id, toSchedulerRequest(record), placeOptions(record));
    this.#actors.set(record.id, record);
    this.#args.set(record.id, request.args);
    if (record.name) this.#names.set(record.name, record.id);
    await this.#store.putArgs(record.id, request.args);
    await this.#settle(record, result);
    return record;
  }

  async #launch(record: ActorRecord, nodeId: string, gpuIds: number[]): Promise<void> {
    record.state = record.restarts > 0 ? "restarting" : "starting";
    record.nodeId = nodeId;
    record.gpuIds = gpuIds;
    delete record.pendingReason;
    await this.#save(record);
    try {
      readReply(
        await this.#order(nodeId, { op: "start", actor: record, args: this.#args.get(record.id) ?? encode([]) }),
        "start",
      );
    } catch (error) {
      console.error(`Coordinator: cannot start actor "${record.id}" on node "${nodeId}": ${(error as Error).message}`);
      // The node is gone or unreachable; the heartbeat check will remove it and reschedule the actor.
    }
  }

  async #save(record: ActorRecord): Promise<void> {
    record.updatedAt = Math.max(Date.now(), record.updatedAt + 1);
    this.#changed.set(record.id, performance.now());
    await this.#store.putActor(record);
    const event: LifecycleEvent = { type: "state", actor: record };
    await this.#transport.publish(this.subjects.lifecycle(record.id), encode(event));
  }

  async #kill(id: string, graceful: boolean): Promise<ActorRecord> {
    const record = this.#actors.get(this.#names.get(id) ?? id);
    if (record === undefined) throw new NotFoundError(`Cannot kill actor "${id}": no such actor`);
    if (record.state === "dead" || record.state === "stopping") return record;
    if (record.state === "pending" || record.nodeId === undefined || !this.#nodeAlive(record.nodeId)) {
      await this.#died(record, killedError(record));
      return record;
    }
    record.state = "stopping";
    await this.#save(record);
    await this.#order(record.nodeId, { op: "stop", actor: record.id, incarnation: record.incarnation, graceful })
      .catch(() => this.#died(record, killedError(record)));
    return record;
  }

  /** Marks an actor dead for good and frees what it held. */
  async #died(record: ActorRecord, reason: Error): Promise<void> {
    this.#scheduler.release(record.id);
    record.state = "dead";
    record.deathReason = errorToWire(reason);
    delete record.pendingReason;
    this.#args.delete(record.id);
    await this.#save(record);
    await this.#store.deleteArgs(record.id).catch(() => {});
    await this.#forgetOldDead();
    await this.#placePending();
  }

  /** Keeps the newest `MAX_DEAD` dead records (for `getActor` errors and the API); older ones are dropped. */
  async #forgetOldDead(): Promise<void> {
    const dead = [...this.#actors.values()].filter((r) => r.state === "dead");
    if (dead.length <= MAX_DEAD) return;
    dead.sort((a, b) => a.updatedAt - b.updatedAt);
    for (const record of dead.slice(0, dead.length - MAX_DEAD)) {
      this.#actors.delete(record.id);
      this.#changed.delete(record.id);
      this.#logs.delete(record.id);
      await this.#logStore?.forget(record.id).catch((error) =>
        console.error(`Coordinator: cannot drop the logs of actor "${record.id}": ${(error as Error).message}`)
      );
      if (record.name && this.#names.get(record.name) === record.id) this.#names.delete(record.name);
      await this.#store.deleteActor(record.id).catch(() => {});
    }
  }

  /** An actor's process is gone without being asked to stop: restart it (if allowed) anywhere that fits. */
  async #crashed(record: ActorRecord, reason: string): Promise<void> {
    const { maxRestarts } = record.options;
    if (maxRestarts !== -1 && record.restarts >= maxRestarts) {
      await this.#died(record, new ActorDiedError(`Actor "${label(record)}" died: ${reason}`));
      return;
    }
    this.#scheduler.release(record.id);
    // An actor that dies right after starting (a restore that keeps failing, a crash on start) would otherwise
    // restart in a tight loop, a process per iteration: wait a little before the next attempt.
    const quick = this.#sinceChange(record.id) < QUICK_CRASH_MS;
    record.restarts++;
    record.incarnation++;
    console.error(
      `Coordinator: restarting actor "${label(record)}" (${reason}), restart ${record.restarts}`,
    );
    record.state = "restarting";
    delete record.nodeId;
    if (!quick) {
      await this.#place(record);
      return;
    }
    await this.#save(record);
    // The release above must reach KV too: a successor loading a scheduler that still holds it would leak it.
    await this.#store.putScheduler(this.#scheduler.toJSON());
    const incarnation = record.incarnation;
    setTimeout(() => {
      void this.#serial(async () => {
        if (this.#stopped || record.incarnation !== incarnation || record.state !== "restarting") return;
        if (!record.nodeId && !this.#scheduled(record.id)) await this.#place(record);
      });
    }, RESTART_DELAY_MS);
  }

  /** Places (or queues) an actor that is in no scheduler structure, then starts it if placed. */
  async #place(record: ActorRecord): Promise<void> {
    await this.#settle(
      record,
      this.#scheduler.placeOrEnqueue(record.id, toSchedulerRequest(record), placeOptions(record)),
    );
  }

  /** Starts a placed actor or records why it waits, then persists the scheduler. */
  async #settle(record: ActorRecord, result: PlaceResult): Promise<void> {
    if (result.ok) {
      await this.#launch(record, result.nodeId, result.gpuIds);
    } else {
      record.pendingReason = result.reason;
      await this.#save(record);
    }
    await this.#store.putScheduler(this.#scheduler.toJSON());
  }

  /** Whether the scheduler has the actor placed or queued. */
  #scheduled(actorId: string): boolean {
    return this.#scheduler.placement(actorId) !== undefined || this.#scheduler.pending().some((p) => p.id === actorId);
  }

  /** A report from node `from` about one of its actors; reports about actors placed elsewhere are ignored. */
  #lifecycle(event: ActorReport, from: string): Promise<void> {
    if (event.type === "exited") checkSender("an exit report", event.nodeId, from);
    return this.#serial(async () => {
      const record = this.#actors.get(event.actorId);
      if (record === undefined || record.incarnation !== event.incarnation || record.state === "dead") return;
      if (record.nodeId !== from) {
        console.error(`Coordinator: ignored a "${event.type}" report on "${record.id}" from node "${from}"`);
        return;
      }
      if (event.type === "ready") {
        if (record.state !== "starting" && record.state !== "restarting") return;
        record.state = "alive";
        record.pid = event.pid;
        await this.#save(record);
      } else if (event.type === "failed") {
        if (record.restarts === 0) await this.#died(record, errorFromWire(event.error));
        else await this.#crashed(record, `restore failed: ${event.error.message}`);
      } else if (event.type === "exited") {
        if (record.nodeId !== event.nodeId) return;
        if (record.state === "stopping") {
          await this.#died(record, killedError(record));
        } else {
          await this.#crashed(record, `process exited (${event.signal ?? `code ${event.code}`})`);
        }
      }
    });
  }

  async #register(info: NodeInfo): Promise<string[]> {
    const node = toNodeRecord(info, this.#nodes.get(info.id), Date.now());
    this.#seen.set(node.id, performance.now());
    this.#nodes.set(node.id, node);
    const spec = toSchedulerNode(info);
    if (this.#scheduler.nodes().some((n) => n.id === info.id)) this.#scheduler.updateNode(info.id, spec);
    else this.#scheduler.addNode({ id: info.id, ...spec });
    await this.#store.putNode(node);
    console.error(`Coordinator: node "${node.id}" joined (${node.cpus} cpus, gpus [${node.gpuIds.join(",")}])`);
    const running = new Map(info.actors.map((a) => [a.id, a.incarnation]));
    const keep: string[] = [];
    for (const record of this.#actors.values()) {
      if (record.nodeId !== info.id || !LIVE.has(record.state)) continue;
      if (running.get(record.id) === record.incarnation) keep.push(record.id);
      else if (record.state === "alive") await this.#crashed(record, `node "${info.id}" no longer runs it`);
    }
    // After computing `keep`: actors placed now are started by `#launch`, not reported by the agent.
    await this.#placePending();
    return keep;
  }

  #heartbeat(beat: Heartbeat): HeartbeatReply {
    const node = this.#nodes.get(beat.nodeId);
    if (node === undefined || node.state !== "alive") return { known: false, epoch: this.#epoch };
    node.lastHeartbeat = Date.now();
    this.#seen.set(node.id, performance.now());
    const running = new Map(beat.actors.map((a) => [a.id, a.incarnation]));
    void this.#serial(async () => {
      for (const record of this.#actors.values()) {
        if (record.nodeId !== beat.nodeId) continue;
        // A start the agent never received (or a process whose exit event was lost) shows up as a missing process;
        // the agent lists a process from the moment it spawns it, so slow starts are not mistaken for lost ones.
        const starting = (record.state === "starting" || record.state === "restarting") &&
          this.#sinceChange(record.id) > START_GRACE_MS;
        if (record.state !== "alive" && !starting) continue;
        if (running.get(record.id) === record.incarnation) {
          this.#missing.delete(record.id);
          // Running but still not alive past the grace: its `ready` may have been lost (sent while no coordinator
          // ran). Ask the host itself; any answer means it serves.
          if (starting) void this.#probeReady(record);
          continue;
        }
        // Two beats in a row without the process: its exit event was lost (e.g. while NATS restarted).
        const misses = (this.#missing.get(record.id) ?? 0) + 1;
        this.#missing.set(record.id, misses);
        if (misses >= 2) {
          this.#missing.delete(record.id);
          await this.#crashed(record, `node "${beat.nodeId}" no longer runs it`);
        }
      }
      for (const [id, incarnation] of running) {
        const record = this.#actors.get(id);
        if (record === undefined || record.nodeId !== beat.nodeId || record.incarnation !== incarnation) {
          const stop = { op: "stop", actor: id, incarnation, graceful: false, epoch: this.#epoch };
          await this.#transport.publish(this.subjects.agent(beat.nodeId), encode(stop)).catch(() => {});
        }
      }
    });
    return { known: true, epoch: this.#epoch };
  }

  /** Marks a starting actor alive when its host answers a ping (see `PING_METHOD`); outside `#serial` while asking. */
  async #probeReady(record: ActorRecord): Promise<void> {
    const incarnation = record.incarnation;
    let pid: unknown;
    try {
      const subject = this.subjects.call(record.id, incarnation);
      pid = readReply(await this.#transport.request(subject, encodeCall(PING_METHOD, []), { timeoutMs: 1000 }), "ping");
    } catch {
      return; // not serving yet (no responders) or busy: the next beat asks again
    }
    await this.#serial(async () => {
      if (record.incarnation !== incarnation || (record.state !== "starting" && record.state !== "restarting")) return;
      console.error(`Coordinator: actor "${label(record)}" answers but its ready report was lost; marking it alive`);
      record.state = "alive";
      if (typeof pid === "number") record.pid = pid;
      await this.#save(record);
    });
  }

  async #checkNodes(): Promise<void> {
    const now = performance.now();
    for (const node of this.#nodes.values()) {
      const silent = now - (this.#seen.get(node.id) ?? now);
      if (node.state === "alive" && silent > this.#nodeTimeoutMs) {
        await this.#nodeLost(node.id, `missed heartbeats for ${Math.round(silent)} ms`);
      }
    }
  }

  async #nodeLost(nodeId: string, why: string): Promise<null> {
    const node = this.#nodes.get(nodeId);
    if (node === undefined || node.state === "dead") return null;
    console.error(`Coordinator: node "${nodeId}" ${why}; rescheduling its actors`);
    node.state = "dead";
    await this.#store.putNode(node);
    if (this.#scheduler.nodes().some((n) => n.id === nodeId)) this.#scheduler.removeNode(nodeId);
    for (const record of this.#actors.values()) {
      if (record.nodeId !== nodeId || !LIVE.has(record.state)) continue;
      if (record.state === "stopping") {
        await this.#died(record, killedError(record));
      } else await this.#crashed(record, `node "${nodeId}" ${why}`);
    }
    await this.#syncGroups();
    await this.#store.putScheduler(this.#scheduler.toJSON());
    return null;
  }

  async #placePending(): Promise<void> {
    const placed = this.#scheduler.retryPending();
    for (const placement of placed.actors) {
      const record = this.#actors.get(placement.actorId);
      if (record !== undefined) await this.#launch(record, placement.nodeId, placement.gpuIds);
    }
    const pending = new Map(this.#scheduler.pending().map((p) => [p.id, p.reason]));
    for (const record of this.#actors.values()) {
      const reason = pending.get(record.id);
      if (reason !== undefined && reason !== record.pendingReason) {
        record.pendingReason = reason;
        await this.#save(record);
      }
    }
    await this.#syncGroups();
    await this.#store.putScheduler(this.#scheduler.toJSON());
  }

  async #createGroup(
    bundles: PlacementGroupRecord["bundles"],
    strategy: PlacementGroupRecord["strategy"],
    name?: string,
  ): Promise<PlacementGroupRecord> {
    const id = name ?? `pg-${crypto.randomUUID().slice(0, 8)}`;
    if (this.#groups.has(id) && this.#groups.get(id)!.state !== "removed") {
      throw new PlacementError(`Cannot create placement group "${id}": it already exists`);
    }
    this.#scheduler.createPlacementGroup(id, bundles.map((b) => toSchedulerResources(b)), strategy);
    const record: PlacementGroupRecord = { id, strategy, bundles, state: "pending" };
    if (name !== undefined) record.name = name;
    this.#groups.set(id, record);
    await this.#syncGroups();
    await this.#store.putScheduler(this.#scheduler.toJSON());
    return record;
  }

  #group(id: string): PlacementGroupRecord {
    const record = this.#groups.get(id);
    if (record === undefined) throw new NotFoundError(`No placement group "${id}"`);
    return record;
  }

  async #removeGroup(id: string): Promise<PlacementGroupRecord> {
    const record = this.#group(id);
    if (record.state === "removed") return record;
    for (const actorId of this.#scheduler.removePlacementGroup(id)) await this.#kill(actorId, false);
    record.state = "removed";
    await this.#store.putGroup(record);
    await this.#placePending();
    return record;
  }

  async #syncGroups(): Promise<void> {
    for (const record of this.#groups.values()) {
      const view = this.#scheduler.placementGroup(record.id);
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
      await this.#store.putGroup(record);
    }
  }

  #collectLogs(batch: LogBatch): void {
    let lines = this.#logs.get(batch.actorId);
    if (lines === undefined) this.#logs.set(batch.actorId, lines = []);
    lines.push(...batch.lines);
    if (lines.length > this.#logLines) lines.splice(0, lines.length - this.#logLines);
  }

  /** Monotonic ms since the coordinator last changed an actor's record (Infinity when never, in this process). */
  #sinceChange(actorId: string): number {
    const at = this.#changed.get(actorId);
    return at === undefined ? Infinity : performance.now() - at;
  }

  #nodeAlive(nodeId: string): boolean {
    return this.#nodes.get(nodeId)?.state === "alive";
  }

  async #shutdown(): Promise<null> {
    const live = await this.#serial(async () => {
      const ids = [...this.#actors.values()].filter((r) => r.state !== "dead").map((r) => r.id);
      for (const id of ids) await this.#kill(id, true);
      return ids;
    });
    const deadline = performance.now() + 15_000;
    while (performance.now() < deadline && live.some((id) => this.#actors.get(id)?.state !== "dead")) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const node of this.#nodes.values()) {
      if (node.state !== "alive") continue;
      await this.#order(node.id, { op: "exit" }, 2000).catch(() => {});
    }
    setTimeout(() => void this.stop(), 50);
    return null;
  }
}
