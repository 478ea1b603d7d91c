/**
 * The client API of a Coop cluster: spawn actors from registered classes, look them up by name, kill them, make
 * placement groups and pools. Control requests go to the coordinator; calls go straight to actor hosts.
 * There is no hidden global cluster: create one with `connectCluster()` and pass it around.
 */
import { encode } from "../../shared/mod.ts";
import {
  CallTimeoutError,
  ConfigError,
  CoopError,
  errorFromWire,
  isConnectionLost,
  NoRespondersError,
} from "../../shared/mod.ts";
import {
  type ActorOptions,
  actorOptionsSchema,
  type ActorRecord,
  type AdminRequest,
  type CoordinatorRequest,
  type LifecycleEvent,
  lifecycleEventSchema,
  type LogLine,
  type NodeRecord,
  parseMessage,
  type PlacementGroupRecord,
  type PlacementStrategy,
  readReply,
  type ResourceRequest,
} from "../../shared/mod.ts";
import { type Subjects, subjects } from "../../shared/mod.ts";
import type { BlobStore, Transport, TransportSubscription } from "../../shared/mod.ts";
import { ActorEntry, type ActorHandle, type CallOptions, type HandleHost, makeHandle, waitAlive } from "./handle.ts";
import { ActorPool, type PoolOptions } from "./pool.ts";
import { registrationOf } from "./registry.ts";

/**
 * Coordinator requests resent when their reply was lost: reads, and kill (killing twice is a no-op). Lost either
 * with a NATS disconnect (ConnectionLostError) or with a coordinator that took the request and died (a kill -9
 * during a failover): nothing reports that, so these get a first attempt of RESEND_FIRST_ATTEMPT_MS, doubled per
 * resend, within the request timeout. A spawn is not resent (it would place a second actor); a named one is
 * looked up instead.
 */
const RESENDABLE = new Set(["actors", "nodes", "getActor", "logs", "getPlacementGroup", "kill"]);
const RESEND_PAUSE_MS = 200;
const RESEND_FIRST_ATTEMPT_MS = 4000;

// deno-lint-ignore no-explicit-any
type AnyConstructor = new (...args: any[]) => any;

/** Options for {@link Cluster}. */
export interface ClusterOptions {
  /** Cluster name (subject namespace). Default "default". */
  cluster?: string;
  /** Timeout of control requests to the coordinator (ms). Default 30000. */
  requestTimeoutMs?: number;
  /** Close the transport in `close()` (set by `connectCluster`). */
  ownsTransport?: boolean;
}

/** Options for {@link Cluster.spawn}. */
export interface SpawnOptions extends Partial<Omit<ActorOptions, "placementGroup">> {
  /** A unique name, for `cluster.getActor(name)`. */
  name?: string;
  placementGroup?: PlacementGroup | string;
  /** Resolve only once the actor is alive (default true); otherwise as soon as the coordinator accepted it. */
  wait?: boolean;
  /** How long `spawn` waits for the actor to be alive (ms). Default 120000. */
  readyTimeoutMs?: number;
  /** Gives up waiting (`CancelledError`), e.g. when the run that asked for the actor is stopped. */
  signal?: AbortSignal;
}

/** A placement group: bundles of resources reserved together. Spawn into it with `{ placementGroup, bundleIndex }`. */
export interface PlacementGroup {
  readonly id: string;
  readonly strategy: PlacementStrategy;
  readonly bundles: ResourceRequest[];
  /** Resolves when every bundle is placed (or rejects after `timeoutMs`). */
  ready(timeoutMs?: number): Promise<PlacementGroupRecord>;
}

/** A client of one cluster. */
export class Cluster implements HandleHost {
  readonly transport: Transport;
  readonly subjects: Subjects;
  readonly #entries = new Map<string, ActorEntry>();
  readonly #requestTimeoutMs: number;
  readonly #ownsTransport: boolean;
  #events: TransportSubscription | undefined;
  #blobs: Promise<BlobStore> | undefined;

  constructor(transport: Transport, options: ClusterOptions = {}) {
    this.transport = transport;
    this.subjects = subjects(options.cluster ?? "default");
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#ownsTransport = options.ownsTransport ?? false;
  }

  /** Creates an actor of a registered class and returns a typed handle once it is alive. */
  async spawn<C extends AnyConstructor>(
    cls: C,
    options: SpawnOptions,
    ...args: ConstructorParameters<C>
  ): Promise<ActorHandle<InstanceType<C>>> {
    if (typeof cls !== "function") {
      throw new ConfigError("cluster.spawn takes the actor class, e.g. cluster.spawn(Counter, {...}), not an instance");
    }
    const registration = registrationOf(cls);
    const className = registration?.name ?? cls.name;
    const idempotent = Object.entries(registration?.methods ?? {})
      .filter(([, spec]) => spec?.idempotent === true).map(([method]) => method);
    const { name, placementGroup, wait, readyTimeoutMs, signal, ...rest } = options;
    const parsed = actorOptionsSchema.safeParse({
      ...rest,
      ...(placementGroup === undefined ? {} : {
        placementGroup: typeof placementGroup === "string" ? placementGroup : placementGroup.id,
      }),
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigError(`Invalid spawn options for "${className}": ${issue?.path.join(".")}: ${issue?.message}`);
    }
    this.#listen();
    const record = await (this.#request({
      op: "spawn",
      className,
      name,
      options: parsed.data,
      idempotent,
      args: encode(args),
    }) as Promise<ActorRecord>).catch((error) => {
      // The spawn may have gone through: a named actor can be found again (an unnamed one cannot: it may leak).
      if (name === undefined || !isConnectionLost(error)) throw error;
      return this.#request({ op: "getActor", nameOrId: name }) as Promise<ActorRecord>;
    });
    const entry = this.#track(record);
    if (wait !== false) {
      const what = `Cannot spawn "${name ?? className}"`;
      try {
        await waitAlive(this, entry, Date.now() + (readyTimeoutMs ?? 120_000), what, signal);
      } catch (error) {
        if (entry.record.state !== "dead") {
          // Gave up (aborted or not ready in time): nobody holds a handle to this actor, so kill it, or a
          // still-pending request would be placed later and run unowned.
          await this.kill(record.id, { graceful: false, timeoutMs: 5000 }).catch(() => {});
          throw error;
        }
        // A constructor that threw: surface its own error (class name, remote stack) rather than "actor is dead".
        const reason = entry.record.deathReason;
        if (entry.record.restarts === 0 && reason) {
          const remote = errorFromWire(reason);
          remote.message = `${what}: ${remote.message}`;
          throw remote;
        }
        throw error;
      }
    }
    return makeHandle(this, record.id);
  }

  /** A handle on an existing actor, by name or id. Throws `NotFoundError` when there is none. */
  async getActor<T>(nameOrId: string, options: CallOptions = {}): Promise<ActorHandle<T>> {
    this.#listen();
    const record = await this.#request({ op: "getActor", nameOrId }) as ActorRecord;
    this.#track(record);
    return makeHandle<T>(this, record.id, options);
  }

  /** Kills an actor (graceful: in-flight calls finish first) and waits until it is dead. No restart follows. */
  async kill(actor: { actorId: string } | string, options: { graceful?: boolean; timeoutMs?: number } = {}) {
    const id = typeof actor === "string" ? actor : actor.actorId;
    const record = await this.#request({ op: "kill", actor: id, graceful: options.graceful ?? true }) as ActorRecord;
    const entry = this.#track(record);
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    while (entry.record.state !== "dead" && Date.now() < deadline) {
      await entry.changed(500);
      if ((entry.record.state as string) !== "dead") entry.update(await this.refresh(id));
    }
  }

  /** A pool over handles of the same class: `map`, `mapUnordered`, and `submit` to the least loaded. */
  pool<T>(handles: ActorHandle<T>[], options: PoolOptions = {}): ActorPool<T> {
    return new ActorPool(handles, (handle) => this.entry(handle.actorId).pending, options);
  }

  /** Reserves bundles of resources with a strategy (PACK, SPREAD, STRICT_PACK, STRICT_SPREAD). */
  async createPlacementGroup(
    bundles: ResourceRequest[],
    options: { strategy?: PlacementStrategy; name?: string } = {},
  ): Promise<PlacementGroup> {
    const strategy = options.strategy ?? "PACK";
    const record = await this.#request({
      op: "createPlacementGroup",
      name: options.name,
      strategy,
      bundles,
    }) as PlacementGroupRecord;
    return {
      id: record.id,
      strategy,
      bundles,
      ready: async (timeoutMs = 60_000) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const current = await this.#request({ op: "getPlacementGroup", id: record.id }) as PlacementGroupRecord;
          if (current.state === "created") return current;
          if (Date.now() > deadline) {
            throw new CoopError(
              `Placement group "${record.id}" is not ready: ${current.pendingReason ?? current.state}`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      },
    };
  }

  /** Releases a placement group's reservation. */
  async removePlacementGroup(group: PlacementGroup | string): Promise<void> {
    await this.#request({ op: "removePlacementGroup", id: typeof group === "string" ? group : group.id });
  }

  /** All actor records the coordinator knows. */
  async actors(): Promise<ActorRecord[]> {
    return await this.#request({ op: "actors" }) as ActorRecord[];
  }

  /** All node records. */
  async nodes(): Promise<NodeRecord[]> {
    return await this.#request({ op: "nodes" }) as NodeRecord[];
  }

  /** Recent log lines of an actor (its stdout/stderr, forwarded by its agent). */
  async logs(actor: { actorId: string } | string): Promise<LogLine[]> {
    return await this.#request({ op: "logs", actor: typeof actor === "string" ? actor : actor.actorId }) as LogLine[];
  }

  /** The cluster's blob store (JetStream Object Store): weights many actors read, digest-checked, version-tagged. */
  blobs(): Promise<BlobStore> {
    this.#blobs ??= this.transport.blobs(this.subjects.blobBucket);
    return this.#blobs;
  }

  /** Stops every actor, every agent and the coordinator. */
  async shutdown(): Promise<void> {
    await this.#request({ op: "shutdown" }, this.subjects.admin);
  }

  /** Closes this client (and its connection when it owns it). The cluster keeps running. */
  async close(): Promise<void> {
    this.#events?.unsubscribe();
    this.#events = undefined;
    if (this.#ownsTransport) await this.transport.close();
  }

  /** @internal */
  callSubject(actorId: string, incarnation: number): string {
    return this.subjects.call(actorId, incarnation);
  }

  /** @internal */
  entry(actorId: string): ActorEntry {
    const entry = this.#entries.get(actorId);
    if (entry === undefined) throw new CoopError(`Unknown actor "${actorId}" in this client`);
    return entry;
  }

  /** @internal */
  async refresh(actorId: string): Promise<ActorRecord> {
    const record = await this.#request({ op: "getActor", nameOrId: actorId }) as ActorRecord;
    this.#track(record);
    return record;
  }

  #track(record: ActorRecord): ActorEntry {
    let entry = this.#entries.get(record.id);
    if (entry === undefined) {
      entry = new ActorEntry(record);
      this.#entries.set(record.id, entry);
    } else {
      entry.update(record);
    }
    return entry;
  }

  async #request(
    request: CoordinatorRequest | AdminRequest,
    // Lookups go to their own subject: an actor host may send them (and nothing else to the coordinator).
    subject = request.op === "getActor" ? this.subjects.lookup : this.subjects.coordinator,
  ): Promise<unknown> {
    // The codec encodes `undefined` as nil, which the schemas' optional fields reject: drop absent fields.
    const compact = Object.fromEntries(Object.entries(request).filter(([, value]) => value !== undefined));
    const deadline = performance.now() + this.#requestTimeoutMs;
    const resendable = RESENDABLE.has(request.op);
    let reply: Uint8Array;
    try {
      for (let attemptMs = resendable ? RESEND_FIRST_ATTEMPT_MS : Infinity;; attemptMs *= 2) {
        const left = deadline - performance.now();
        try {
          const timeoutMs = Math.max(1, Math.min(left, attemptMs));
          reply = await this.transport.request(subject, encode(compact), { timeoutMs });
          break;
        } catch (error) {
          const lost = isConnectionLost(error) || (error instanceof CallTimeoutError && attemptMs < left);
          if (!lost || !resendable || performance.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, RESEND_PAUSE_MS));
        }
      }
    } catch (error) {
      if (error instanceof NoRespondersError) {
        throw new NoRespondersError(
          `Cannot ${request.op}: no coordinator serves cluster "${this.subjects.cluster}" (start one with \`coop up\`)`,
          { cause: error },
        );
      }
      throw error;
    }
    return readReply(reply, `coordinator request "${request.op}"`);
  }

  #listen(): void {
    if (this.#events !== undefined) return;
    const subscription = this.transport.subscribe(this.subjects.lifecycleAll);
    this.#events = subscription;
    (async () => {
      for await (const message of subscription) {
        let event: LifecycleEvent;
        try {
          event = parseMessage(lifecycleEventSchema, message.data, "lifecycle event");
        } catch {
          continue; // not a lifecycle record: nothing to act on
        }
        if (event.type === "state") {
          this.#entries.get(event.actor.id)?.update(event.actor);
        } else if (event.type === "exited") {
          const detail = `actor process exited (${event.signal ?? `code ${event.code}`}) during the call`;
          this.#entries.get(event.actorId)?.exited(event.incarnation, detail);
        } else if (event.type === "failed") {
          this.#entries.get(event.actorId)?.exited(event.incarnation, "actor failed to restart during the call");
        }
      }
    })().catch(() => {});
  }
}
