/**
 * The actor host: the loop inside one actor's process. It builds the actor from a registered class, listens on
 * the actor's call subject and answers `[method, args]` frames, running at most `maxConcurrency` calls at once.
 * Bad frames, unknown methods and bad arguments are answered with typed errors and logged; the host keeps going.
 */
import { BackpressureError, BadArgumentsError, errorToWire } from "../shared/mod.ts";
import { decode } from "../shared/mod.ts";
import { createLogger } from "../shared/mod.ts";
import { type ActorRecord, type ActorReport, decodeCall, errorReply, okReply, PING_METHOD } from "../shared/mod.ts";
import { subjects } from "../shared/mod.ts";
import type { Transport, TransportMessage } from "../shared/mod.ts";
import { encode } from "../shared/mod.ts";
import {
  Cluster,
  type RegisteredActor,
  resolveActor,
  resolveMethod,
  type RestoreInfo,
  setActorContext,
} from "./core/mod.ts";
import { ReplyCache } from "./reply_cache.ts";

const log = createLogger({ component: "actor-host" });

/** What the agent hands a host process on stdin. */
export interface HostSpec {
  cluster: string;
  nodeId: string;
  actor: ActorRecord;
  /** msgpack-encoded constructor arguments. */
  args: Uint8Array;
}

/** A running host; `stop()` finishes in-flight calls (up to `graceMs`) and unsubscribes. */
export interface RunningHost {
  stop(graceMs?: number): Promise<void>;
  /** Resolves when the call loop ends. */
  done: Promise<void>;
}

/** Builds the actor and serves its calls on `transport`. Publishes `ready` (or `failed`, then throws). */
export async function runActorHost(transport: Transport, spec: HostSpec): Promise<RunningHost> {
  const { entry, instance } = await buildActor(transport, spec);
  const host = new ActorHost(transport, spec, entry, instance);
  await host.start();
  return host;
}

/** Builds the actor from its registered class (restoring it after a restart), or reports `failed` and throws. */
async function buildActor(transport: Transport, spec: HostSpec): Promise<{ entry: RegisteredActor; instance: object }> {
  const { actor } = spec;
  try {
    const entry = await resolveActor(actor.className);
    const args = decode(spec.args);
    if (!Array.isArray(args)) {
      throw new BadArgumentsError(`Cannot construct "${actor.className}": args must be an array`);
    }
    setActorContext({
      actorId: actor.id,
      name: actor.name ?? undefined,
      className: actor.className,
      nodeId: spec.nodeId,
      incarnation: actor.incarnation,
      restarts: actor.restarts,
      gpuIds: actor.gpuIds ?? [],
      cluster: new Cluster(transport, { cluster: spec.cluster }),
    });
    const instance: object = new entry.cls(...args);
    const restore = (instance as { restore?: (info: RestoreInfo) => unknown }).restore;
    if (actor.restarts > 0 && typeof restore === "function") {
      await restore.call(instance, { restarts: actor.restarts, incarnation: actor.incarnation, actorId: actor.id });
    }
    return { entry, instance };
  } catch (error) {
    log.error(`Actor "${actor.name ?? actor.id}" (${actor.className}) failed to start: ${(error as Error).stack}`);
    await publishReport(transport, spec, {
      type: "failed",
      actorId: actor.id,
      incarnation: actor.incarnation,
      error: errorToWire(error),
    });
    await transport.flush();
    throw error;
  }
}

function publishReport(transport: Transport, spec: HostSpec, event: ActorReport): Promise<void> {
  return transport.publish(subjects(spec.cluster).report(spec.actor.id, spec.nodeId), encode(event));
}

/** One actor's call loop: at most `maxConcurrency` calls run, up to `maxPendingCalls` wait, the rest are refused. */
class ActorHost implements RunningHost {
  done: Promise<void> = Promise.resolve();
  #transport: Transport;
  #spec: HostSpec;
  #entry: RegisteredActor;
  #instance: object;
  #label: string;
  #maxConcurrency: number;
  #maxQueued: number;
  #methods = new Map<string, (...args: unknown[]) => unknown>();
  #running = 0;
  #sending = 0;
  #queue: TransportMessage[] = [];
  /** Replies by call id: a call resent after a NATS disconnect is answered, not run twice. */
  readonly #replies = new ReplyCache();
  #idle: (() => void) | undefined;
  #subscription: ReturnType<Transport["subscribe"]> | undefined;

  constructor(transport: Transport, spec: HostSpec, entry: RegisteredActor, instance: object) {
    this.#transport = transport;
    this.#spec = spec;
    this.#entry = entry;
    this.#instance = instance;
    this.#label = `actor "${spec.actor.name ?? spec.actor.id}"`;
    this.#maxConcurrency = spec.actor.options.maxConcurrency;
    this.#maxQueued = spec.actor.options.maxPendingCalls;
  }

  /** Subscribes to the call subject, then reports `ready`. */
  async start(): Promise<void> {
    const { actor } = this.#spec;
    // Synchronous delivery: a batch of calls read from the socket is answered within the same tick, so the replies
    // leave in one write (with the async iterator, each reply was flushed alone: measured 2x the server CPU).
    const subscription = this.#transport.subscribe(subjects(this.#spec.cluster).call(actor.id, actor.incarnation), {
      onMessage: (message) => {
        try {
          this.#accept(message);
        } catch (error) {
          log.warn(`dropped a call to ${this.#label}: ${(error as Error).message}`);
        }
      },
    });
    this.#subscription = subscription;
    this.done = (async () => {
      for await (const _ of subscription) { /* messages arrive through onMessage */ }
    })();
    await this.#transport.flush();
    await publishReport(this.#transport, this.#spec, {
      type: "ready",
      actorId: actor.id,
      incarnation: actor.incarnation,
      pid: Deno.pid,
    });
    await this.#transport.flush();
  }

  /** Unsubscribes, then waits for in-flight and queued calls (up to `graceMs`). */
  async stop(graceMs = 5000): Promise<void> {
    this.#subscription?.unsubscribe();
    if (this.#running > 0 || this.#sending > 0 || this.#queue.length > 0) {
      const drained = new Promise<void>((resolve) => this.#idle = resolve);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([drained, new Promise((resolve) => timer = setTimeout(resolve, graceMs))]);
      clearTimeout(timer);
    }
  }

  #accept(message: TransportMessage): void {
    if (this.#running < this.#maxConcurrency) {
      this.#run(message);
    } else if (this.#maxQueued > 0 && this.#queue.length >= this.#maxQueued) {
      message.respond?.(errorReply(
        new BackpressureError(`Cannot queue a call on ${this.#label}: ${this.#queue.length} calls already waiting`),
      )).catch(() => {});
    } else {
      this.#queue.push(message);
    }
  }

  // Synchronous up to the method call: sync methods answer without any promise hop (the call latency benchmark
  // counts every microtask on this path); async ones are awaited.
  #run(message: TransportMessage): void {
    this.#running++;
    let result: unknown;
    let callId: string | undefined;
    try {
      const call = decodeCall(message.data);
      // Only calls that must not run twice are remembered: a resent call of an idempotent method may simply run
      // again, and the bookkeeping would cost the fast calls (rollouts, scores) most of all.
      callId = this.#entry.methods[call.method]?.idempotent === true ? undefined : call.callId;
      if (call.method === PING_METHOD) {
        this.#finish(message, okReply(Deno.pid));
        return;
      }
      if (callId !== undefined && !this.#replies.admit(callId, message)) {
        this.#running--; // a resend: answered by the reply cache
        this.#next();
        return;
      }
      result = this.#method(call.method, call.args).apply(this.#instance, call.args);
    } catch (error) {
      this.#fail(message, error, callId);
      return;
    }
    if (typeof (result as { then?: unknown } | null)?.then === "function") {
      (result as Promise<unknown>).then(
        (value) => this.#finish(message, encodeResult(value), callId),
        (error) => this.#fail(message, error, callId),
      );
    } else {
      this.#finish(message, encodeResult(result), callId);
    }
  }

  /** The bound method (cached), after checking `args` against its schema if it declares one. */
  #method(method: string, args: unknown[]): (...args: unknown[]) => unknown {
    let fn = this.#methods.get(method);
    if (fn === undefined) {
      fn = resolveMethod(this.#entry, this.#instance, method);
      this.#methods.set(method, fn);
    }
    const schema = this.#entry.methods[method]?.args;
    if (schema !== undefined) {
      const parsed = schema.safeParse(args);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new BadArgumentsError(
          `Cannot call "${method}" on ${this.#label}: argument ${issue?.path.join(".") || "list"}: ${issue?.message}`,
        );
      }
    }
    return fn;
  }

  #finish(message: TransportMessage, reply: Uint8Array, callId?: string): void {
    this.#running--;
    this.#sending++;
    if (callId !== undefined) this.#replies.settle(callId, reply);
    const sent = message.respond?.(reply) ?? Promise.resolve();
    sent.then(() => this.#sentOne(), async (error) => {
      // The result itself could not be sent (e.g. too large): tell the caller why instead of leaving it hanging.
      log.warn(`Cannot send the reply of a call to ${this.#label}: ${(error as Error).message}`);
      await message.respond?.(errorReply(error)).catch(() => {});
      this.#sentOne();
    });
    this.#next();
  }

  #next(): void {
    const next = this.#queue.shift();
    if (next !== undefined) this.#run(next);
  }

  #fail(message: TransportMessage, error: unknown, callId?: string): void {
    const name = (error as Error)?.name;
    if (name === "DecodeError" || name === "BadArgumentsError" || name === "UnknownMethodError") {
      log.warn(`Rejected a call to ${this.#label}: ${name}: ${(error as Error).message}`);
    }
    this.#finish(message, errorReply(error), callId);
  }

  #sentOne(): void {
    this.#sending--;
    if (this.#running === 0 && this.#sending === 0) this.#idle?.();
  }
}

function encodeResult(value: unknown): Uint8Array {
  try {
    return okReply(value);
  } catch (error) {
    return errorReply(error); // e.g. a result that msgpack cannot carry
  }
}
