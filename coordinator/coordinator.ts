/**
 * The coordinator: registry of nodes and actors, placement through the Scheduler, supervision (heartbeats,
 * process exits, restarts with `restore`), and state in JetStream KV. It is not on the call path: clients call
 * actor hosts directly, so calls keep flowing while the coordinator restarts.
 *
 * This module serves the subjects; the state and the actor lifecycle live in `core.ts`, node supervision in
 * `supervision.ts` and the start from KV in `recovery.ts`. All state changes run one at a time through
 * `core.serial()`, because handlers await KV writes and agent requests between reading and writing state.
 */
import { BadArgumentsError, NotFoundError, PlacementError } from "../shared/mod.ts";
import {
  type ActorRecord,
  actorReportSchema,
  adminRequestSchema,
  checkSender,
  type CoordinatorRequest,
  coordinatorRequestSchema,
  heartbeatSchema,
  type LogBatch,
  logBatchSchema,
  type LogLine,
  lookupRequestSchema,
  type NodeRecord,
  nodeRequestSchema,
  parseMessage,
  type PlacementGroupRecord,
} from "../shared/mod.ts";
import { listenTo, serveRequests } from "../shared/mod.ts";
import { type Subjects, subjects, subjectToken } from "../shared/mod.ts";
import type { Transport, TransportSubscription } from "../shared/mod.ts";
import type { NodeUsage } from "./scheduler/mod.ts";
import { placeOptions, toSchedulerRequest, toSchedulerResources } from "./requests.ts";
import type { StateStore } from "./state_store.ts";
import type { ActorLogStore } from "./log_store.ts";
import { CoordinatorCore } from "./core.ts";
import { checkNodes, heartbeat, lifecycle, nodeLost, register } from "./supervision.ts";
import { checkStore, recover, resumeActors } from "./recovery.ts";
import { createLogger } from "../shared/mod.ts";

const log = createLogger({ component: "coordinator" });

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
  /** Raises the epoch above one an agent reports (`Lease.raiseEpoch`). Default: just move above it (no lease). */
  raiseEpoch?: (above: number) => Promise<number>;
}

// Constructor arguments are kept in KV for restarts; KV values are bounded by the server's max_payload.
const MAX_ARGS_BYTES = 512 * 1024;

type SpawnRequest = Extract<CoordinatorRequest, { op: "spawn" }>;

/** A running coordinator. */
export class Coordinator {
  readonly subjects: Subjects;
  readonly startedAt = Date.now();
  readonly #core: CoordinatorCore;
  readonly #nodeTimeoutMs: number;
  readonly #logLines: number;
  readonly #subscriptions: TransportSubscription[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #resolveExit = () => {};
  /** Resolves when the cluster was shut down (or `stop()` was called). */
  readonly exited = new Promise<void>((resolve) => this.#resolveExit = resolve);

  constructor(transport: Transport, store: StateStore, options: CoordinatorOptions = {}) {
    this.subjects = subjects(options.cluster ?? "default");
    this.#nodeTimeoutMs = options.nodeTimeoutMs ?? 5000;
    this.#logLines = options.logLines ?? 500;
    this.#core = new CoordinatorCore({
      transport,
      store,
      subjects: this.subjects,
      epoch: options.epoch ?? 0,
      logStore: options.logStore,
      raiseEpoch: options.raiseEpoch,
    });
  }

  /** Loads state from KV, then starts serving. */
  async start(): Promise<void> {
    const core = this.#core;
    await recover(core, await core.store.load());
    this.#subscribe();
    let checking = false;
    // Cut off from NATS, nobody's heartbeat can reach us: the node check waits for the reconnect (which restarts
    // every node's clock) instead of reading the outage as deaths — it ran on during an outage longer than the node
    // timeout and restarted every actor (tests/chaos/nats_restart_test.ts).
    let cutOff = false;
    this.#timer = setInterval(() => {
      if (!cutOff) void core.serial(() => checkNodes(core, this.#nodeTimeoutMs));
      if (checking) return;
      checking = true;
      void checkStore(core).finally(() => checking = false);
    }, Math.min(1000, this.#nodeTimeoutMs / 3));
    void (async () => {
      for await (const event of core.transport.status()) {
        if (event.type === "disconnect") cutOff = true;
        if (event.type !== "reconnect") continue;
        // While we were cut off nobody's heartbeat could reach us: do not declare nodes dead for that.
        for (const node of core.nodes.values()) {
          node.lastHeartbeat = Date.now();
          core.seen.set(node.id, performance.now());
        }
        cutOff = false;
        // A server that came back without its JetStream store: recreate the state bucket now, before the first
        // write after the reconnect (a spawn) retries against the missing bucket for its whole budget.
        await checkStore(core).catch(() => {});
        // State events published while NATS was away are lost (core NATS): clients waiting on a call to an actor
        // that was restarted meanwhile would wait for their timeout. Announce every live record again.
        await core.announceAll().catch(() => {});
      }
    })().catch(() => {});
    await core.transport.flush();
    await core.serial(() => resumeActors(core));
  }

  #subscribe(): void {
    const core = this.#core;
    // Node-bound subjects carry the sender's node id as their last token; records naming another node are refused.
    this.#serve(
      this.subjects.coordinator,
      (data) => this.#handle(parseMessage(coordinatorRequestSchema, data, "coordinator request")),
    );
    // Lookups only: the one request an actor host's credentials allow (it may find actors, not spawn or kill).
    this.#serve(
      this.subjects.lookup,
      (data) => this.#handle(parseMessage(lookupRequestSchema, data, "lookup request")),
    );
    this.#serve(this.subjects.admin, (data) => {
      parseMessage(adminRequestSchema, data, "admin request"); // shutdown is the only one
      return this.#shutdown();
    });
    this.#serve(this.subjects.nodeAll, (data, subject) => this.#nodeRequest(data, subjectToken(subject, -1)));
    this.#serve(this.subjects.heartbeatAll, (data, subject) => {
      const beat = parseMessage(heartbeatSchema, data, "heartbeat");
      checkSender("a heartbeat", beat.nodeId, subjectToken(subject, -1));
      return heartbeat(core, beat);
    });
    this.#listen(this.subjects.reportAll, (data, subject) => {
      const report = parseMessage(actorReportSchema, data, "actor report");
      if (report.actorId !== subjectToken(subject, -2)) {
        throw new BadArgumentsError(`Refused an actor report: it names "${report.actorId}" on ${subject}`);
      }
      return lifecycle(core, report, subjectToken(subject, -1));
    });
    if (core.logStore === undefined) {
      this.#listen(this.subjects.logsAll, (data, subject) => {
        const batch = parseMessage(logBatchSchema, data, "log batch");
        if (batch.actorId !== subjectToken(subject, -1)) {
          throw new BadArgumentsError(`Refused a log batch: it names "${batch.actorId}" on ${subject}`);
        }
        this.#collectLogs(batch);
      });
    }
  }

  /** Stops serving (the cluster's actors and agents keep running; a new coordinator can take over). */
  async stop(): Promise<void> {
    if (this.#core.stopped) return;
    this.#core.stopped = true;
    clearInterval(this.#timer);
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    await this.#core.drain();
    this.#resolveExit();
  }

  /** Snapshot for the control API and the status table. */
  snapshot(): { nodes: NodeRecord[]; actors: ActorRecord[]; groups: PlacementGroupRecord[] } {
    return {
      nodes: [...this.#core.nodes.values()],
      actors: [...this.#core.actors.values()],
      groups: [...this.#core.groups.values()],
    };
  }

  /** One actor's record, by name or id. */
  actor(nameOrId: string): { actor: ActorRecord } | undefined {
    const actor = this.#core.actors.get(this.#core.names.get(nameOrId) ?? nameOrId);
    return actor === undefined ? undefined : { actor };
  }

  /** An actor's last `limit` log lines (default all kept), oldest first; [] for an unknown actor. */
  async logs(actorId: string, limit = this.#logLines): Promise<LogLine[]> {
    if (this.#core.logStore !== undefined) return await this.#core.logStore.read(actorId, limit);
    const lines = this.#core.logs.get(actorId) ?? [];
    return lines.slice(Math.max(0, lines.length - limit));
  }

  /** The scheduler's view of node capacity and use. */
  usage(): NodeUsage[] {
    return this.#core.scheduler.nodes();
  }

  #serve(subject: string, handler: (data: Uint8Array, subject: string) => Promise<unknown> | unknown): void {
    this.#subscriptions.push(serveRequests(this.#core.transport, subject, handler, {
      // Unknown actors and groups are the caller's business, not the coordinator's.
      onError: (error) => {
        if (!(error instanceof NotFoundError)) log.warn(`${(error as Error).message}`);
      },
    }));
  }

  #listen(subject: string, handler: (data: Uint8Array, subject: string) => Promise<void> | void): void {
    this.#subscriptions.push(listenTo(this.#core.transport, subject, handler, "coordinator"));
  }

  #handle(request: CoordinatorRequest): Promise<unknown> | unknown {
    const core = this.#core;
    switch (request.op) {
      case "spawn":
        return core.serial(() => this.#spawn(request));
      case "kill":
        return core.serial(() => core.kill(request.actor, request.graceful ?? true));
      case "getActor": {
        const found = this.actor(request.nameOrId);
        if (found === undefined) throw new NotFoundError(`No actor named "${request.nameOrId}"`);
        return found.actor;
      }
      case "actors":
        return [...core.actors.values()];
      case "nodes":
        return [...core.nodes.values()];
      case "logs":
        return this.logs(request.actor);
      case "createPlacementGroup":
        return core.serial(() => this.#createGroup(request.bundles, request.strategy, request.name));
      case "getPlacementGroup":
        return this.#group(request.id);
      case "removePlacementGroup":
        return core.serial(() => this.#removeGroup(request.id));
    }
  }

  /** Register and deregister, each about the node whose subject it came on. */
  #nodeRequest(data: Uint8Array, subjectNode: string): Promise<unknown> {
    const request = parseMessage(nodeRequestSchema, data, "node request");
    if (request.op === "register") {
      checkSender("a registration", request.node.id, subjectNode);
      return this.#core.serial(() => register(this.#core, request.node));
    }
    checkSender("a deregistration", request.nodeId, subjectNode);
    return this.#core.serial(() => nodeLost(this.#core, request.nodeId, "left the cluster"));
  }

  async #spawn(request: SpawnRequest): Promise<ActorRecord> {
    const core = this.#core;
    const label = request.name ?? request.className;
    if (request.args.byteLength > MAX_ARGS_BYTES) {
      throw new BadArgumentsError(
        `Cannot spawn "${label}": constructor arguments are ${request.args.byteLength} bytes (limit ${MAX_ARGS_BYTES}); ` +
          "pass large tensors through a method call or the blob store",
      );
    }
    if (request.name !== undefined) {
      const existing = core.actors.get(core.names.get(request.name) ?? "");
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
    const result = core.scheduler.placeOrEnqueue(record.id, toSchedulerRequest(record), placeOptions(record));
    core.actors.set(record.id, record);
    core.args.set(record.id, request.args);
    if (record.name) core.names.set(record.name, record.id);
    try {
      // Arguments first: a successor that finds the record must be able to start it.
      await core.store.putArgs(record.id, request.args);
      await core.settle(record, result);
    } catch (error) {
      // KV refused a write (NATS away, JetStream state lost): no start order went out, so undo the spawn rather
      // than keep a half-made actor that holds its name and resources. The caller may simply retry.
      core.scheduler.release(record.id);
      core.actors.delete(record.id);
      core.index(record);
      core.args.delete(record.id);
      if (record.name) core.names.delete(record.name);
      await core.persistScheduler().catch(() => {});
      await core.store.deleteActor(record.id).catch(() => {});
      throw error;
    }
    return record;
  }

  async #createGroup(
    bundles: PlacementGroupRecord["bundles"],
    strategy: PlacementGroupRecord["strategy"],
    name?: string,
  ): Promise<PlacementGroupRecord> {
    const core = this.#core;
    const id = name ?? `pg-${crypto.randomUUID().slice(0, 8)}`;
    if (core.groups.has(id) && core.groups.get(id)!.state !== "removed") {
      throw new PlacementError(`Cannot create placement group "${id}": it already exists`);
    }
    core.scheduler.createPlacementGroup(id, bundles.map((b) => toSchedulerResources(b)), strategy);
    const record: PlacementGroupRecord = { id, strategy, bundles, state: "pending" };
    if (name !== undefined) record.name = name;
    core.groups.set(id, record);
    await core.persistScheduler();
    await core.syncGroups();
    return record;
  }

  #group(id: string): PlacementGroupRecord {
    const record = this.#core.groups.get(id);
    if (record === undefined) throw new NotFoundError(`No placement group "${id}"`);
    return record;
  }

  async #removeGroup(id: string): Promise<PlacementGroupRecord> {
    const core = this.#core;
    const record = this.#group(id);
    if (record.state === "removed") return record;
    for (const actorId of core.scheduler.removePlacementGroup(id)) await core.kill(actorId, false);
    record.state = "removed";
    await core.store.putGroup(record);
    await core.persistScheduler();
    await core.placePending();
    return record;
  }

  #collectLogs(batch: LogBatch): void {
    let lines = this.#core.logs.get(batch.actorId);
    if (lines === undefined) this.#core.logs.set(batch.actorId, lines = []);
    lines.push(...batch.lines);
    if (lines.length > this.#logLines) lines.splice(0, lines.length - this.#logLines);
  }

  async #shutdown(): Promise<null> {
    const core = this.#core;
    const live = await core.serial(async () => {
      const ids = [...core.actors.values()].filter((r) => r.state !== "dead").map((r) => r.id);
      for (const id of ids) await core.kill(id, true);
      return ids;
    });
    const deadline = performance.now() + 15_000;
    while (performance.now() < deadline && live.some((id) => core.actors.get(id)?.state !== "dead")) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (const node of core.nodes.values()) {
      if (node.state !== "alive") continue;
      await core.order(node.id, { op: "exit" }, 2000).catch(() => {});
    }
    setTimeout(() => void this.stop(), 50);
    return null;
  }
}
