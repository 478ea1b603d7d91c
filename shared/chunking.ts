/**
 * Chunked delivery of messages larger than the server's max_payload, with credit-based flow control.
 *
 * Protocol (all control messages carry NATS headers; plain messages never do, so receivers tell them apart by
 * `msg.headers === undefined` alone):
 * 1. The sender requests `target` with an empty "start" message: total size, chunk count, the sender's ack inbox and,
 *    for requests, the reply subject. Request semantics pick exactly one receiver (also in queue groups) and give
 *    no-responders detection for free.
 * 2. That receiver checks the size against its cap, subscribes a private inbox and answers "ready" with the inbox
 *    and a window (chunks in flight), or "reject" with a reason.
 * 3. The sender publishes the data chunks (no headers) to the private inbox, never more than the window ahead of the
 *    receiver's cumulative acks; NATS keeps per-publisher order, so the receiver places chunks at a running offset.
 *    The window bounds what sits in the server for that client, so a 256 MiB message never trips slow-consumer
 *    limits. The final ack tells the sender the message arrived whole.
 * A receiver that stops hearing chunks for `idleMs` drops the half-received message and its inbox.
 */
import { createInbox, Empty, headers } from "@nats-io/transport-node";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { CallTimeoutError, DecodeError, MessageTooLargeError } from "./errors.ts";

const KIND = "Coop-Chunk";
const SIZE = "Coop-Size";
const COUNT = "Coop-Count";
const ACKS = "Coop-Acks";
const REPLY = "Coop-Reply";
const INBOX = "Coop-Inbox";
const WINDOW = "Coop-Window";
const REASON = "Coop-Reason";

// Chunks bigger than this buy nothing measurable and make the window coarse on servers with a large max_payload.
const MAX_CHUNK_BYTES = 8 * 1024 * 1024;
// Bytes a receiver lets be in flight per message. nats-server (2.9) absorbs fast producers by stalling them, so
// bursts alone do not make slow consumers; what does is a receiver whose event loop is blocked past the server's
// write_deadline while more is queued for it than the socket buffers hold. Measured here with write_deadline 500ms
// and a receiver blocked 1.2 s at a time: a 16 MiB window was cut off every time, 4 MiB in 1 run of 5; 256 MiB
// throughput was the same as raw NATS publish with either.
const WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * A new inbox under the connection's `inboxPrefix` (an actor host with per-actor credentials may subscribe only
 * below its own). nats.js keeps the connect options on the connection without typing them in its interface.
 */
export function inboxOf(nc: NatsConnection): string {
  return createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
}

/** Limits a receiver enforces. */
export interface ReceiveLimits {
  maxMessageBytes: number;
  idleMs: number;
  /** Cap on bytes being reassembled at once across all messages; `reserved` is the running total (mutated). */
  maxReassemblyBytes: number;
  reserved: number;
}

/** Options for {@link sendChunked}. */
export interface SendChunkedOptions {
  /** For requests: where the receiver should send its response. */
  replyTo?: string;
  /** Give up waiting for the receiver after this long without progress. */
  idleMs: number;
  /** Absolute deadline (ms since epoch) for the whole transfer, e.g. a request timeout. */
  deadline?: number;
  signal: AbortSignal;
}

/** A reassembled message. */
export interface ChunkedMessage {
  data: Uint8Array;
  /** Reply subject the sender asked for, if any. */
  replyTo?: string;
}

/** True when `msg` opens a chunked transfer. */
export function isChunkStart(msg: Msg): boolean {
  return msg.headers?.get(KIND) === "start";
}

/** Chunk size used for a server's max_payload. */
export function chunkBytes(maxPayload: number): number {
  return Math.max(1, Math.min(maxPayload, MAX_CHUNK_BYTES));
}

function remaining(deadline: number | undefined, idleMs: number): number {
  return deadline === undefined ? idleMs : Math.min(idleMs, deadline - Date.now());
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("Transport closed");
}

/** Sends `data` to `target` in chunks; resolves once the receiver acknowledged every chunk. */
export async function sendChunked(
  nc: NatsConnection,
  target: string,
  data: Uint8Array,
  options: SendChunkedOptions,
): Promise<void> {
  const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
  const size = chunkBytes(maxPayload);
  const count = Math.ceil(data.byteLength / size);
  const ackInbox = inboxOf(nc);
  let acked = 0;
  let wake: (() => void) | undefined;
  const ackSub = nc.subscribe(ackInbox, {
    callback: (_error, msg) => {
      const n = Number(new TextDecoder().decode(msg.data));
      if (Number.isSafeInteger(n) && n > acked) acked = n;
      wake?.();
    },
  });
  const waitForAck = (what: string) =>
    new Promise<void>((resolve, reject) => {
      const ms = remaining(options.deadline, options.idleMs);
      const onAbort = () => finish(abortError(options.signal));
      const timer = setTimeout(
        () => finish(new CallTimeoutError(`Chunked message to "${target}" stalled: no ${what} within ${ms} ms`)),
        Math.max(0, ms),
      );
      const finish = (error?: Error) => {
        clearTimeout(timer);
        options.signal.removeEventListener("abort", onAbort);
        wake = undefined;
        if (error) reject(error);
        else resolve();
      };
      wake = () => finish();
      if (options.signal.aborted) return onAbort();
      options.signal.addEventListener("abort", onAbort);
    });
  try {
    const start = headers();
    start.set(KIND, "start");
    start.set(SIZE, String(data.byteLength));
    start.set(COUNT, String(count));
    start.set(ACKS, ackInbox);
    if (options.replyTo !== undefined) start.set(REPLY, options.replyTo);
    const ready = await nc.request(target, Empty, {
      headers: start,
      timeout: Math.max(1, remaining(options.deadline, options.idleMs)),
    });
    const kind = ready.headers?.get(KIND);
    if (kind === "reject") {
      throw new MessageTooLargeError(
        `Cannot send ${data.byteLength} bytes to "${target}": ${ready.headers!.get(REASON)}`,
      );
    }
    const inbox = ready.headers?.get(INBOX) ?? "";
    const window = Number(ready.headers?.get(WINDOW));
    if (kind !== "ready" || inbox === "" || !Number.isSafeInteger(window) || window < 1) {
      throw new DecodeError(`Cannot send chunked message to "${target}": malformed ready answer`);
    }
    for (let i = 0; i < count; i++) {
      while (i - acked >= window) await waitForAck("acknowledgement");
      nc.publish(inbox, data.subarray(i * size, Math.min(data.byteLength, (i + 1) * size)));
    }
    while (acked < count) await waitForAck("final acknowledgement");
  } finally {
    ackSub.unsubscribe();
  }
}

function answer(start: Msg, fields: Record<string, string>): void {
  const h = headers();
  for (const [key, value] of Object.entries(fields)) h.set(key, value);
  start.respond(Empty, { headers: h });
}

/** Reads and checks a start message's header; answers "reject" and returns the error when it cannot be taken. */
function admit(
  start: Msg,
  limits: ReceiveLimits,
): { total: number; count: number; ackInbox: string; replyTo: string | undefined } | Error {
  const h = start.headers!;
  const total = Number(h.get(SIZE));
  const count = Number(h.get(COUNT));
  const ackInbox = h.get(ACKS);
  const replyTo = h.get(REPLY) || undefined;
  if (!Number.isSafeInteger(total) || !Number.isSafeInteger(count) || count < 1 || count > total || ackInbox === "") {
    answer(start, { [KIND]: "reject", [REASON]: "malformed start header" });
    return new DecodeError(`Cannot receive chunked message on "${start.subject}": malformed start`);
  }
  if (total > limits.maxMessageBytes) {
    const reason = `message of ${total} bytes exceeds the receiver's limit of ${limits.maxMessageBytes} bytes`;
    answer(start, { [KIND]: "reject", [REASON]: reason });
    return new MessageTooLargeError(`Cannot receive on "${start.subject}": ${reason}`);
  }
  if (limits.reserved + total > limits.maxReassemblyBytes) {
    // Without this, a burst of start messages could make the receiver allocate many messages' worth at once.
    const reason =
      `receiver busy: ${limits.reserved} bytes already being reassembled (limit ${limits.maxReassemblyBytes})`;
    answer(start, { [KIND]: "reject", [REASON]: reason });
    return new MessageTooLargeError(`Cannot receive ${total} bytes on "${start.subject}": ${reason}`);
  }
  return { total, count, ackInbox, replyTo };
}

/**
 * Receives the chunked message opened by `start`: answers "ready", reassembles into one buffer (8-byte aligned at
 * offset 0, so tensors decode as views) and resolves with it. Rejects with {@link MessageTooLargeError} above the
 * cap, {@link CallTimeoutError} when the sender goes quiet, {@link DecodeError} when sizes disagree.
 */
export function receiveChunked(
  nc: NatsConnection,
  start: Msg,
  limits: ReceiveLimits,
  signal: AbortSignal,
): Promise<ChunkedMessage> {
  const admitted = admit(start, limits);
  if (admitted instanceof Error) return Promise.reject(admitted);
  const { total, count, ackInbox, replyTo } = admitted;
  limits.reserved += total;
  const window = Math.max(2, Math.floor(WINDOW_BYTES / Math.ceil(total / count)));
  const ackEvery = Math.max(1, Math.floor(window / 4));
  const inbox = inboxOf(nc);
  return new Promise<ChunkedMessage>((resolve, reject) => {
    // Allocated on the first chunk: receivers that lose the race for a publish never allocate.
    let buffer: Uint8Array | undefined;
    let offset = 0;
    let received = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      limits.reserved -= total;
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      sub.unsubscribe();
      if (error) reject(error);
      else resolve({ data: buffer ?? new Uint8Array(0), replyTo });
    };
    const onAbort = () => finish(abortError(signal));
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        finish(
          new CallTimeoutError(
            `Dropped chunked message on "${start.subject}": ${received} of ${count} chunks after ${limits.idleMs} ms idle`,
          ),
        );
      }, limits.idleMs);
    };
    const sub = nc.subscribe(inbox, {
      callback: (_error, msg) => {
        if (done) return;
        const chunk = msg.data;
        if (offset + chunk.byteLength > total) {
          return finish(new DecodeError(`Chunked message on "${start.subject}" overflows its declared ${total} bytes`));
        }
        buffer ??= new Uint8Array(total);
        buffer.set(chunk, offset);
        offset += chunk.byteLength;
        received++;
        if (received % ackEvery === 0 || received === count) nc.publish(ackInbox, String(received));
        if (received < count) return arm();
        if (offset !== total) {
          return finish(new DecodeError(`Chunked message on "${start.subject}" has ${offset} of ${total} bytes`));
        }
        finish();
      },
    });
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort);
    arm();
    answer(start, { [KIND]: "ready", [INBOX]: inbox, [WINDOW]: String(window) });
  });
}
