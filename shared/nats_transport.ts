/**
 * The NATS adapter for {@link Transport} (nats.js v3: @nats-io/transport-node, kv, obj). Small messages pass
 * straight through to nats.js — no headers, no copies, one wrapper object per received message; messages above the
 * server's max_payload go through the flow-controlled chunking protocol in `chunking.ts`. Reconnects are
 * unlimited and reported through `status()`.
 *
 * Large messages differ from small ones in two ways, both because a chunked transfer needs one receiver to talk to:
 * a large publish reaches exactly one subscriber (the first to answer; fan-out of big data goes through blobs), and
 * it rejects with `NoRespondersError` when nobody is subscribed, and resolves only once the receiver has it all.
 */
import { connect, errors as natsErrors } from "@nats-io/transport-node";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import { AsyncQueue } from "./async_queue.ts";
import { inboxOf, isChunkStart, receiveChunked, type ReceiveLimits, sendChunked } from "./chunking.ts";
import { failRequestsOnDisconnect, isTransient } from "./connection_loss.ts";
import { CallTimeoutError, ConnectionLostError, CoopError, MessageTooLargeError, NoRespondersError } from "./errors.ts";
import { createLogger } from "./log.ts";
import { type NatsConnectOptions, toNatsJsOptions } from "./nats_options.ts";
import { NatsBlobStore, NatsKvStore } from "./nats_stores.ts";
import { openNatsStream } from "./nats_streams.ts";
import type {
  BlobStore,
  ConnectionEvent,
  KvStore,
  MessageStream,
  RequestOptions,
  StreamSpec,
  SubscribeOptions,
  Transport,
  TransportMessage,
  TransportSubscription,
} from "./transport.ts";

/** Default cap on one message (chunked above max_payload). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 * 1024;
const DEFAULT_CHUNK_IDLE_MS = 30_000;
const RESOLVED: Promise<void> = Promise.resolve();
const CLOSE_DRAIN_MS = 3000;

/** The NATS transport, plus what benchmarks and diagnostics need beyond {@link Transport}. */
export interface NatsTransport extends Transport {
  /** The underlying nats.js connection (benchmark baselines, diagnostics). Do not close it directly. */
  readonly raw: NatsConnection;
  /** The connected server's max_payload: messages above it are chunked. */
  readonly maxPayload: number;
  /** Replicas of the buckets and streams this connection creates (`NatsConnectOptions.replicas`). */
  readonly replicas: number;
}

/** Raised when the NATS server refuses or cannot be reached at connect time. */
export class NatsConnectError extends CoopError {
  override name = "NatsConnectError";
}

let socketGuardInstalled = false;

/**
 * When nats-server refuses a connection (bad credentials) it closes the socket; nats.js has already removed its
 * listeners by then, and Deno's node:net compat can still emit the peer's reset as an `error` event that nobody
 * handles — an uncaught exception that would kill the process. Connection resets are never worth dying for: the
 * connect call has already reported the refusal, and live connections reconnect on their own.
 */
function installSocketResetGuard(): void {
  if (socketGuardInstalled) return;
  socketGuardInstalled = true;
  globalThis.addEventListener("error", (event) => {
    const code = (event.error as { code?: unknown } | undefined)?.code;
    if (code === "ECONNRESET" || code === "EPIPE") event.preventDefault();
  });
}

/** Connects to NATS; rejects with {@link NatsConnectError} (auth refused, unreachable) or a `ConfigError`. */
export async function connectNats(options: NatsConnectOptions): Promise<NatsTransport> {
  const natsOptions = await toNatsJsOptions(options);
  installSocketResetGuard();
  let nc: NatsConnection;
  const waiting = options.waitOnFirstConnect ? reportWaiting(options, [natsOptions.servers ?? []].flat()) : undefined;
  try {
    nc = await connect(natsOptions);
  } catch (error) {
    const servers = [natsOptions.servers].flat().join(", ");
    const reason = error instanceof natsErrors.AuthorizationError
      ? "authorization refused (check the NATS user/password, token, NKey or creds)"
      : (error as Error).message;
    throw new NatsConnectError(`Cannot connect to NATS at ${servers}: ${reason}`, { cause: error });
  } finally {
    if (waiting !== undefined) clearInterval(waiting);
  }
  return new NatsTransportImpl(nc, options);
}

// nats.js retries a first connection silently when told to wait for the server; a coordinator or agent that
// cannot reach NATS (wrong URL, server not up, network) must say so, with the URL, for as long as it retries.
function reportWaiting(options: NatsConnectOptions, servers: string[]): ReturnType<typeof setInterval> {
  const started = Date.now();
  const every = options.waitingReportMs ?? 2000;
  const report = options.onWaiting ?? (({ servers, waitedMs }) => {
    createLogger({ component: options.name ?? "nats" }).warn(
      `cannot reach NATS at ${servers.join(", ")} yet (${Math.round(waitedMs / 1000)} s); still retrying`,
    );
  });
  return setInterval(() => report({ servers, waitedMs: Date.now() - started }), every);
}

function findCause<T>(error: unknown, cls: new (...args: never[]) => T): T | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof cls) return e;
  }
  return undefined;
}

function requestError(error: unknown, subject: string, timeoutMs: number): Error {
  if (error instanceof CallTimeoutError) return error; // already says what stalled
  const lost = findCause(error, ConnectionLostError);
  if (lost) return new ConnectionLostError(`Request to "${subject}": ${lost.message}`, { cause: error });
  if (findCause(error, natsErrors.TimeoutError)) {
    return new CallTimeoutError(`Request to "${subject}" timed out after ${timeoutMs} ms`, { cause: error });
  }
  if (
    findCause(error, natsErrors.NoRespondersError) ||
    (error instanceof natsErrors.RequestError && error.isNoResponders())
  ) {
    return new NoRespondersError(`No responders for "${subject}": nothing is subscribed to it`, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}

class NatsTransportImpl implements NatsTransport {
  readonly raw: NatsConnection;
  readonly maxMessageBytes: number;
  /** Replicas of the buckets and streams this connection creates. */
  readonly replicas: number;
  readonly #limits: ReceiveLimits;
  readonly #closing = new AbortController();
  /** Aborted at the next disconnect (then replaced): chunked transfers of the old connection cannot finish. */
  #connection = new AbortController();
  readonly #onError: (error: Error) => void;
  #kvm: Kvm | undefined;
  #objm: Objm | undefined;

  constructor(nc: NatsConnection, options: NatsConnectOptions) {
    this.raw = nc;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.replicas = options.replicas ?? 1;
    this.#limits = {
      maxMessageBytes: this.maxMessageBytes,
      idleMs: options.chunkIdleMs ?? DEFAULT_CHUNK_IDLE_MS,
      maxReassemblyBytes: options.maxReassemblyBytes ?? 2 * this.maxMessageBytes,
      reserved: 0,
    };
    const log = createLogger({ component: "nats" });
    this.#onError = options.onError ?? ((error) => log.warn(error.message, { error: error.name }));
    failRequestsOnDisconnect(nc, (error) => {
      this.#connection.abort(error);
      this.#connection = new AbortController();
    });
  }

  /** Ends a chunked transfer when the transport closes or the connection it started on drops. */
  get #transferSignal(): AbortSignal {
    return AbortSignal.any([this.#closing.signal, this.#connection.signal]);
  }

  get maxPayload(): number {
    return this.raw.info?.max_payload ?? 1024 * 1024;
  }

  #checkSize(subject: string, data: Uint8Array): void {
    if (data.byteLength > this.maxMessageBytes) {
      throw new MessageTooLargeError(
        `Cannot send ${data.byteLength} bytes to "${subject}": over the ${this.maxMessageBytes}-byte message limit`,
      );
    }
  }

  publish(subject: string, data: Uint8Array): Promise<void> {
    if (data.byteLength <= this.maxPayload) {
      try {
        this.raw.publish(subject, data);
      } catch (error) {
        return Promise.reject(error);
      }
      return RESOLVED;
    }
    try {
      this.#checkSize(subject, data);
    } catch (error) {
      return Promise.reject(error);
    }
    return sendChunked(this.raw, subject, data, { idleMs: this.#limits.idleMs, signal: this.#transferSignal })
      .catch((error) => Promise.reject(requestError(error, subject, this.#limits.idleMs)));
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
    const timeoutMs = options.timeoutMs;
    // Plain .then() rather than an async function: the small path is the call hot path, every promise hop shows.
    let sent: Promise<Msg>;
    if (data.byteLength <= this.maxPayload) {
      sent = this.raw.request(subject, data, { timeout: timeoutMs });
    } else {
      try {
        this.#checkSize(subject, data);
      } catch (error) {
        return Promise.reject(error);
      }
      sent = this.#requestLarge(subject, data, Date.now() + timeoutMs);
    }
    return sent.then(
      (msg) => msg.headers === undefined ? msg.data : this.#largeReply(subject, msg),
      (error) => Promise.reject(requestError(error, subject, timeoutMs)),
    );
  }

  async #largeReply(subject: string, msg: Msg): Promise<Uint8Array> {
    if (!isChunkStart(msg)) {
      throw new CoopError(`Unexpected reply from "${subject}": a header-only message that is not a Coop chunk start`);
    }
    return (await receiveChunked(this.raw, msg, this.#limits, this.#transferSignal)).data;
  }

  async #requestLarge(subject: string, data: Uint8Array, deadline: number): Promise<Msg> {
    // A private inbox for the one response (plain or a chunk start), subscribed before the request goes out.
    const inbox = inboxOf(this.raw);
    const sub = this.raw.subscribe(inbox, { max: 1, timeout: Math.max(1, deadline - Date.now()) });
    const signal = this.#transferSignal;
    // A private inbox is not in nats.js's request multiplexer: a disconnect ends the wait here.
    const onAbort = () => sub.unsubscribe();
    signal.addEventListener("abort", onAbort, { once: true });
    const response = (async () => {
      for await (const msg of sub) return msg;
      if (signal.aborted && signal.reason instanceof Error) throw signal.reason;
      throw new CallTimeoutError(`No response on "${subject}"`);
    })();
    response.catch(() => {}); // observed below; avoids an unhandled rejection while still sending
    try {
      await sendChunked(this.raw, subject, data, { replyTo: inbox, idleMs: this.#limits.idleMs, deadline, signal });
      return await response;
    } catch (error) {
      sub.unsubscribe();
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  /** Sends a response to `replyTo`, chunked when large. */
  respondTo(replyTo: string, data: Uint8Array): Promise<void> {
    return this.publish(replyTo, data);
  }

  subscribe(subject: string, options: SubscribeOptions = {}): TransportSubscription {
    return new NatsSubscription(this, subject, options);
  }

  /** @internal Reports a background error to the `onError` hook. */
  reportError(error: Error): void {
    this.#onError(error);
  }

  /** @internal Hands a raw nats.js message to `sink`, reassembling chunked ones in the background. */
  deliver(msg: Msg, sink: (msg: TransportMessage) => void): void {
    if (msg.headers === undefined) {
      try {
        sink(msg.reply ? new ReplyableMessage(msg.subject, msg.data, this, msg.reply) : new PlainMessage(msg));
      } catch (error) {
        // A throwing onMessage callback must not take nats.js's read loop down with it.
        this.#onError(error instanceof Error ? error : new Error(String(error)));
      }
      return;
    }
    if (!isChunkStart(msg)) return; // e.g. a status message: nothing for the application
    receiveChunked(this.raw, msg, this.#limits, this.#transferSignal).then(
      ({ data, replyTo }) =>
        sink(
          replyTo === undefined
            ? new PlainMessage({ subject: msg.subject, data })
            : new ReplyableMessage(msg.subject, data, this, replyTo),
        ),
      (error) => {
        if (!this.#closing.signal.aborted) this.#onError(error);
      },
    );
  }

  async kv(bucket: string): Promise<KvStore> {
    this.#kvm ??= new Kvm(this.raw);
    return new NatsKvStore(await this.#kvm.create(bucket, { replicas: this.replicas }), bucket, () => this.maxPayload);
  }

  async blobs(bucket: string): Promise<BlobStore> {
    this.#objm ??= new Objm(this.raw);
    const store = await this.#objm.create(bucket, { replicas: this.replicas });
    return new NatsBlobStore(store, bucket, () => this.maxPayload);
  }

  stream(spec: StreamSpec): Promise<MessageStream> {
    return openNatsStream(this.raw, { replicas: this.replicas, ...spec });
  }

  async *status(): AsyncIterable<ConnectionEvent> {
    for await (const s of this.raw.status()) {
      switch (s.type) {
        case "disconnect":
          yield { type: "disconnect", server: s.server };
          break;
        case "reconnecting":
          yield { type: "reconnecting" };
          break;
        case "reconnect":
          yield { type: "reconnect", server: s.server };
          break;
        case "error":
          yield { type: "error", error: s.error };
          break;
      }
    }
  }

  async flush(): Promise<void> {
    // A flush still waiting when the connection drops is rejected at the reconnect ("connection disconnected"), and
    // what it waited for went with the old connection: flush again on the new one (for up to ~10 s).
    for (let attempt = 1;; attempt++) {
      try {
        return await this.raw.flush();
      } catch (error) {
        if (this.raw.isClosed() || !isTransient(error) || attempt >= 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async close(): Promise<void> {
    // Drain first so acks already on the wire still complete transfers; then fail whatever is left waiting.
    // A drain cannot finish while the server is away, so it gets a few seconds before a hard close.
    if (!this.raw.isClosed()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const gaveUp = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), CLOSE_DRAIN_MS));
      try {
        if (await Promise.race([this.raw.drain(), gaveUp]) === "timeout") await this.raw.close();
      } catch {
        await this.raw.close();
      } finally {
        clearTimeout(timer);
      }
    }
    this.#closing.abort(new CoopError("Transport closed"));
  }
}

class PlainMessage implements TransportMessage {
  readonly subject: string;
  readonly data: Uint8Array;

  constructor(source: { subject: string; data: Uint8Array }) {
    this.subject = source.subject;
    this.data = source.data;
  }
}

class ReplyableMessage implements TransportMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly #transport: NatsTransportImpl;
  readonly #replyTo: string;

  constructor(subject: string, data: Uint8Array, transport: NatsTransportImpl, replyTo: string) {
    this.subject = subject;
    this.data = data;
    this.#transport = transport;
    this.#replyTo = replyTo;
  }

  respond(data: Uint8Array): Promise<void> {
    return this.#transport.respondTo(this.#replyTo, data);
  }
}

class NatsSubscription implements TransportSubscription {
  readonly subject: string;
  readonly #sub: Subscription;
  readonly #queue: AsyncQueue<TransportMessage>;

  constructor(transport: NatsTransportImpl, subject: string, options: SubscribeOptions) {
    this.subject = subject;
    this.#queue = new AsyncQueue(() => this.#sub.unsubscribe());
    const queue = this.#queue;
    const sink = options.onMessage ?? ((msg: TransportMessage) => queue.push(msg));
    this.#sub = transport.raw.subscribe(subject, {
      queue: options.queue,
      callback: (error, msg) => {
        if (error) {
          // e.g. a permissions violation: the subscription is over, and someone should hear why.
          transport.reportError(error);
          return queue.close();
        }
        transport.deliver(msg, sink);
      },
    });
    this.#sub.closed.then(() => queue.close(), () => queue.close());
  }

  unsubscribe(): void {
    this.#sub.unsubscribe();
    this.#queue.close();
  }

  async drain(): Promise<void> {
    if (!this.#sub.isClosed()) await this.#sub.drain();
    this.#queue.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<TransportMessage> {
    return this.#queue;
  }
}
