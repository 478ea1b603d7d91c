/**
 * Typed actor handles (Ray's `.remote()`/`.options()` as plain method calls): `await counter.incr(5)` sends
 * `["incr", [5]]` straight to the actor host's subject and resolves with its reply. Per-call options (timeout,
 * retries) live on the handle; `.options({...})` returns a new handle and never mutates one.
 */
import {
  ActorDiedError,
  BackpressureError,
  CallTimeoutError,
  CancelledError,
  ConfigError,
  isConnectionLost,
  NoRespondersError,
} from "../../shared/mod.ts";
import { type ActorRecord, encodeCall, readReply } from "../../shared/mod.ts";
import type { Transport } from "../../shared/mod.ts";

/** Per-call options. */
export interface CallOptions {
  /** Give up after this long (ms) with a `CallTimeoutError`. Default 300000. */
  timeoutMs?: number;
  /** Retries of idempotent methods when the actor dies mid-call; defaults to the actor's `maxTaskRetries`. */
  maxTaskRetries?: number;
}

/** The methods of `T`, each returning a promise of its (awaited) result. */
export type ActorMethods<T> = {
  // deno-lint-ignore no-explicit-any
  [K in keyof T as K extends "restore" | "options" ? never : T[K] extends (...args: any[]) => unknown ? K : never]:
    T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** A typed handle on a remote actor of class `T`. */
export type ActorHandle<T> = ActorMethods<T> & HandleInfo<T>;

/** The non-method members of a handle. */
export interface HandleInfo<T> {
  readonly actorId: string;
  readonly actorName: string | undefined;
  /** A new handle with these call options merged in. */
  options(options: CallOptions): ActorHandle<T>;
}

const DEFAULT_TIMEOUT_MS = 300_000;
const POLL_MS = 1000;

/** Pause before resending a call whose reply a NATS disconnect lost (the connection is usually back by then). */
const RESEND_PAUSE_MS = 200;

// Call ids: this client's nonce and a counter. A host answers a resent id from its reply cache, so a call whose
// reply was lost with the connection can be resent whatever the method.
const CLIENT_NONCE = crypto.randomUUID().slice(0, 13);
let callSequence = 0;

/** How long a call to a replaced incarnation may wait for its "no responders" before it counts as lost. */
const STALE_CALL_GRACE_MS = 1000;

/**
 * What one client knows about one actor: its latest record, calls in flight (so a process exit can fail them at
 * once), and waiters for the actor to become alive. Shared by every handle on that actor in this client.
 */
export class ActorEntry {
  record: ActorRecord;
  /** Calls sent and not yet answered, plus calls waiting for the actor to come back (for `maxPendingCalls`). */
  pending = 0;
  readonly #inFlight = new Set<{ incarnation: number; fail: (error: Error) => void }>();
  readonly #waiters = new Set<() => void>();

  #subject = "";
  #subjectIncarnation = -1;

  constructor(record: ActorRecord) {
    this.record = record;
  }

  /** The call subject of `incarnation`, cached (the hot path would otherwise build it per call). */
  subject(host: HandleHost, incarnation: number): string {
    if (incarnation !== this.#subjectIncarnation) {
      this.#subject = host.callSubject(this.record.id, incarnation);
      this.#subjectIncarnation = incarnation;
    }
    return this.#subject;
  }

  /** Takes a newer record (older incarnations and stale updates are ignored). */
  update(record: ActorRecord): void {
    if (record.incarnation < this.record.incarnation) return;
    if (record.incarnation === this.record.incarnation && record.updatedAt < this.record.updatedAt) return;
    this.record = record;
    // A newer incarnation means the older host is gone (its node was lost, say: no exit event comes then), so its
    // calls in flight will not be answered: fail them, as an exit event would, instead of at their timeout. After a
    // grace: a frame sent to a host that is already gone comes back as "no responders" within milliseconds, and
    // recover() resends it safely; only a call still unanswered after that was delivered and will never be answered.
    const stale = [...this.#inFlight].filter((call) => call.incarnation < record.incarnation);
    if (stale.length > 0) {
      const timer = setTimeout(() => {
        for (const call of stale) {
          if (this.#inFlight.has(call)) call.fail(new ActorDiedError("actor was restarted during the call"));
        }
      }, STALE_CALL_GRACE_MS);
      Deno.unrefTimer(timer);
    }
    for (const wake of this.#waiters) wake();
  }

  /** The host process of `incarnation` exited: fail its calls in flight now rather than at their timeout. */
  exited(incarnation: number, detail: string): void {
    for (const call of this.#inFlight) {
      if (call.incarnation === incarnation) call.fail(new ActorDiedError(detail));
    }
  }

  track(call: { incarnation: number; fail: (error: Error) => void }): () => void {
    this.#inFlight.add(call);
    return () => this.#inFlight.delete(call);
  }

  /** Resolves at the next record change or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#waiters.add(wake);
    });
  }
}

/** What handles need from their cluster client. */
export interface HandleHost {
  readonly transport: Transport;
  callSubject(actorId: string, incarnation: number): string;
  entry(actorId: string): ActorEntry;
  /** Asks the coordinator for the actor's current record (used when events may have been missed). */
  refresh(actorId: string): Promise<ActorRecord>;
}

/** Waits until the actor is alive, or throws `ActorDiedError` / `CallTimeoutError` / `CancelledError` (on `signal`). */
export async function waitAlive(
  host: HandleHost,
  entry: ActorEntry,
  deadline: number,
  what: string,
  signal?: AbortSignal,
): Promise<void> {
  let lastPoll = Date.now();
  // An abort wakes the wait at once instead of at the next poll.
  const wakeOnAbort = () => entry.update(entry.record);
  signal?.addEventListener("abort", wakeOnAbort, { once: true });
  try {
    while (entry.record.state !== "alive") {
      if (signal?.aborted) {
        throw new CancelledError(`${what}: cancelled while the actor was ${entry.record.state}`);
      }
      if (entry.record.state === "dead") throw diedError(entry.record, what);
      const left = deadline - Date.now();
      if (left <= 0) {
        const reason = entry.record.pendingReason ? `: ${entry.record.pendingReason}` : "";
        throw new CallTimeoutError(`${what}: actor is still ${entry.record.state}${reason}`);
      }
      await entry.changed(Math.min(left, POLL_MS));
      if (Date.now() - lastPoll >= POLL_MS && (entry.record.state as string) !== "alive") {
        lastPoll = Date.now();
        entry.update(await host.refresh(entry.record.id).catch(() => entry.record));
      }
    }
  } finally {
    signal?.removeEventListener("abort", wakeOnAbort);
  }
}

function diedError(record: ActorRecord, what: string): ActorDiedError {
  const reason = record.deathReason ? ` (${record.deathReason.name}: ${record.deathReason.message})` : "";
  return new ActorDiedError(`${what}: actor is dead${reason}`);
}

/** One call in progress (kept in one object so the fast path allocates little). */
interface Call {
  host: HandleHost;
  entry: ActorEntry;
  actorId: string;
  method: string;
  frame: Uint8Array;
  timeoutMs: number;
  deadline: number;
  retries: number;
  /** A frame was sent and its reply lost with the connection: the host may have run it. */
  maybeRan: boolean;
}

function describe(call: Call): string {
  return `Cannot call "${call.method}" on actor "${call.entry.record.name ?? call.actorId}"`;
}

/**
 * Calls `method` on the actor, with backpressure, death detection, retries and timeout. The common case (actor
 * alive, reply arrives) takes no async-function hops: measured, each one costs the 64-in-flight throughput.
 */
export function callActor(
  host: HandleHost,
  actorId: string,
  method: string,
  args: unknown[],
  options: CallOptions,
): Promise<unknown> {
  const entry = host.entry(actorId);
  const record = entry.record;
  const limit = record.options.maxPendingCalls;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const call: Call = {
    host,
    entry,
    actorId,
    method,
    frame: EMPTY,
    timeoutMs,
    deadline: Date.now() + timeoutMs,
    retries: record.idempotent.length > 0 && record.idempotent.includes(method)
      ? options.maxTaskRetries ?? record.options.maxTaskRetries
      : 0,
    maybeRan: false,
  };
  if (limit > 0 && entry.pending >= limit) {
    return Promise.reject(
      new BackpressureError(`${describe(call)}: ${entry.pending} calls pending (maxPendingCalls ${limit})`),
    );
  }
  try {
    call.frame = encodeCall(method, args, `${CLIENT_NONCE}.${++callSequence}`);
  } catch (error) {
    return Promise.reject(error);
  }
  entry.pending++;
  const done = (value: unknown) => {
    entry.pending--;
    return value;
  };
  const failed = (error: unknown) => {
    entry.pending--;
    throw error;
  };
  if (record.state !== "alive") return retryLoop(call).then(done, failed);
  const incarnation = record.incarnation;
  return requestOnce(call, incarnation).then(
    done,
    (error) => recover(call, error, incarnation).then(done, failed),
  );
}

const EMPTY = new Uint8Array(0);

/** Decides what a failed attempt means: resend (nobody got it), retry (idempotent), or fail. */
async function recover(call: Call, error: unknown, incarnation: number): Promise<unknown> {
  const { entry } = call;
  if (isConnectionLost(error)) return await resend(call, incarnation);
  if (error instanceof NoRespondersError) {
    // Nobody received the frame, so resending is safe whatever the method: wait for the actor to come back. (Unless
    // an earlier frame was delivered and the host that got it has been replaced since: see lostWithHost.)
    entry.update(await call.host.refresh(call.actorId).catch(() => entry.record));
    if (call.maybeRan && entry.record.incarnation !== incarnation) return lostWithHost(call);
    if (entry.record.state === "alive" && entry.record.incarnation === incarnation) {
      await entry.changed(Math.min(100, Math.max(0, call.deadline - Date.now())));
      if (Date.now() >= call.deadline) {
        throw new CallTimeoutError(`${describe(call)}: no responder within ${call.timeoutMs} ms`);
      }
    }
    return retryLoop(call);
  }
  if (error instanceof ActorDiedError && call.retries !== 0) {
    call.retries--;
    // The host's exit event may arrive before the coordinator's "restarting" record.
    if (entry.record.incarnation === incarnation && entry.record.state === "alive") {
      entry.record = { ...entry.record, state: "restarting" };
    }
    return retryLoop(call);
  }
  throw error;
}

/**
 * A NATS disconnect lost the reply: resend the same frame to the same incarnation, whose reply cache answers it
 * without running the call again (or joins the run still going). The new connection may come up before the host's:
 * its "no responders" then leads back here through recover(). A replaced host took its cache with it.
 */
async function resend(call: Call, incarnation: number): Promise<unknown> {
  call.maybeRan = true;
  await new Promise((resolve) =>
    setTimeout(resolve, Math.min(RESEND_PAUSE_MS, Math.max(0, call.deadline - Date.now())))
  );
  if (Date.now() >= call.deadline) {
    throw new CallTimeoutError(
      `${describe(call)}: the connection to NATS dropped and no reply came within ${call.timeoutMs} ms`,
    );
  }
  if (call.entry.record.incarnation !== incarnation) return lostWithHost(call);
  try {
    return await requestOnce(call, incarnation);
  } catch (error) {
    return recover(call, error, incarnation);
  }
}

/** The host that may have run the call is gone: retry when the method is idempotent, else fail as a death does. */
function lostWithHost(call: Call): Promise<unknown> {
  if (call.retries === 0) {
    return Promise.reject(
      new ActorDiedError(`${describe(call)}: the actor was replaced while a NATS disconnect hid the call's outcome`),
    );
  }
  call.retries--;
  return retryLoop(call);
}

/** The slow path: wait for the actor to be alive, then attempt again. */
async function retryLoop(call: Call): Promise<unknown> {
  if (call.entry.record.state !== "alive") await waitAlive(call.host, call.entry, call.deadline, describe(call));
  const incarnation = call.entry.record.incarnation;
  try {
    return await requestOnce(call, incarnation);
  } catch (error) {
    return recover(call, error, incarnation);
  }
}

function requestOnce(call: Call, incarnation: number): Promise<unknown> {
  const { entry, host } = call;
  const timeoutMs = Math.max(1, call.deadline - Date.now());
  // One promise settled by whichever comes first: the reply, or the host's exit event (hot path: no race()).
  return new Promise((resolve, reject) => {
    const tracked = {
      incarnation,
      fail: (error: Error) => {
        untrack();
        reject(new ActorDiedError(`${describe(call)}: ${error.message}`));
      },
    };
    const untrack = entry.track(tracked);
    host.transport.request(entry.subject(host, incarnation), call.frame, { timeoutMs }).then((reply) => {
      untrack();
      try {
        resolve(readReply(reply, call.method));
      } catch (error) {
        reject(error);
      }
    }, (error) => {
      untrack();
      reject(
        error instanceof CallTimeoutError
          ? new CallTimeoutError(`${describe(call)}: no reply within ${timeoutMs} ms`)
          : error,
      );
    });
  });
}

const INFO_KEYS = new Set(["actorId", "actorName", "options"]);

/** Builds the typed proxy for one actor. */
export function makeHandle<T>(host: HandleHost, actorId: string, callOptions: CallOptions = {}): ActorHandle<T> {
  const methods = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const info = {
    actorId,
    get actorName() {
      return host.entry(actorId).record.name ?? undefined;
    },
    options(options: CallOptions): ActorHandle<T> {
      if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
        throw new ConfigError(`Invalid timeoutMs ${options.timeoutMs}: expected a positive number of milliseconds`);
      }
      const retries = options.maxTaskRetries;
      if (retries !== undefined && !(Number.isInteger(retries) && retries >= -1)) {
        throw new ConfigError(`Invalid maxTaskRetries ${retries}: expected an integer >= 0, or -1 to retry forever`);
      }
      return makeHandle<T>(host, actorId, { ...callOptions, ...options });
    },
  };
  return new Proxy(info, {
    get(target, key) {
      if (typeof key !== "string") return undefined;
      if (INFO_KEYS.has(key)) return target[key as keyof typeof target];
      // `await handle` must not treat the handle as a thenable.
      if (key === "then") return undefined;
      let fn = methods.get(key);
      if (fn === undefined) {
        fn = (...args: unknown[]) => callActor(host, actorId, key, args, callOptions);
        methods.set(key, fn);
      }
      return fn;
    },
  }) as unknown as ActorHandle<T>;
}
