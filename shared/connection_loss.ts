/**
 * What a NATS disconnect means for requests in flight, and how callers get through one. When nats-server restarts,
 * a request sent before it went away has lost its reply for good (the server forgot the reply subscription, and the
 * responder's reply, buffered on its side, races the requester's resubscription). nats.js would let such a request
 * wait out its whole timeout (300 s for an actor call); {@link failRequestsOnDisconnect} fails it at the disconnect
 * with a {@link ConnectionLostError}, so the caller can resend at once. JetStream API calls (KV, Object Store) go
 * through the same request multiplexer, so they fail promptly too; {@link retryTransient} retries the ones that
 * are safe to repeat.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { ConnectionLostError } from "./errors.ts";

/** The part of nats.js's request multiplexer this module uses (nats-core 3.4: `protocol.muxSubscriptions`). */
interface MuxRequests {
  all(): { resolver(error: Error, msg: unknown): void }[];
}

function muxRequests(nc: NatsConnection): MuxRequests | undefined {
  // Internal to nats.js (pinned in deno.json): the public API offers no way to fail requests in flight, and a
  // per-request wrapper would cost a promise on the call hot path. connection_loss_test.ts fails if this moves.
  const mux = (nc as unknown as { protocol?: { muxSubscriptions?: Partial<MuxRequests> } }).protocol
    ?.muxSubscriptions;
  return typeof mux?.all === "function" ? mux as MuxRequests : undefined;
}

/**
 * Watches `nc`'s status and, at every disconnect, fails the requests in flight with {@link ConnectionLostError}
 * and calls `onDisconnect` (which aborts the chunked transfers of the old connection). It fails them again at each
 * reconnect attempt: nats.js discards what was published while disconnected when it dials (`resetOutbound`), so a
 * request sent in between would never leave. Ends when `nc` closes.
 */
export function failRequestsOnDisconnect(nc: NatsConnection, onDisconnect: (error: ConnectionLostError) => void): void {
  (async () => {
    for await (const status of nc.status()) {
      if (status.type !== "disconnect" && status.type !== "reconnecting") continue;
      const error = new ConnectionLostError(
        status.type === "disconnect"
          ? `Lost the connection to NATS (${status.server}) with the request in flight: its reply may be lost`
          : "Reconnecting to NATS: a request sent while disconnected was dropped",
      );
      for (const request of muxRequests(nc)?.all() ?? []) request.resolver(error, {});
      if (status.type === "disconnect") onDisconnect(error);
    }
  })().catch(() => {});
}

function* causes(error: unknown): Generator<Error> {
  for (let e = error, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) yield e;
}

/** True when `error` (or its cause) is a {@link ConnectionLostError}, by class or by name (from the wire). */
export function isConnectionLost(error: unknown): boolean {
  for (const e of causes(error)) if (e instanceof ConnectionLostError || e.name === "ConnectionLostError") return true;
  return false;
}

// nats.js and JetStream errors matched by name: @nats-io/kv and @nats-io/obj may carry their own copies of the
// classes. A TimeoutError is a lost request or reply; JetStreamNotEnabled is the no-responders answer a JetStream
// API request gets while a restarted server is still restoring its streams.
const TRANSIENT = new Set(["TimeoutError", "JetStreamNotEnabled", "ConnectionLostError"]);

/** True for the errors of a connection that dropped or a server that is restarting: worth retrying. */
export function isTransient(error: unknown): boolean {
  for (const e of causes(error)) {
    if (TRANSIENT.has(e.name)) return true;
    if (e.name === "RequestError" && /disconnected|no responders/i.test(e.message)) return true;
  }
  return false;
}

/** Options for {@link retryTransient}. */
export interface RetryTransientOptions {
  /** Give up after this long (ms), rethrowing the last error. Default 60000. */
  budgetMs?: number;
  /** First pause between attempts (ms), doubled up to 2 s. Default 100. */
  initialDelayMs?: number;
}

/**
 * Runs `attempt`, and again after transient errors ({@link isTransient}) until the budget is spent. Only for
 * operations that are safe to repeat (reads, puts of the same value, deletes): the attempt that failed may have
 * taken effect.
 */
export async function retryTransient<T>(attempt: () => Promise<T>, options: RetryTransientOptions = {}): Promise<T> {
  const deadline = performance.now() + (options.budgetMs ?? 60_000);
  for (let delay = options.initialDelayMs ?? 100;; delay = Math.min(2 * delay, 2000)) {
    try {
      return await attempt();
    } catch (error) {
      if (!isTransient(error) || performance.now() + delay > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
