/**
 * The replies of an actor's recent calls, by call id. When nats-server restarts mid-call, the caller's request
 * fails with `ConnectionLostError` and the caller resends the same frame (same call id); the host must not run a
 * non-idempotent method (a learner's update) twice. A resent id whose call still runs waits for that run's reply; one
 * whose call finished gets the cached reply. Bounded by entries, bytes and age: a resend comes within seconds.
 */
import type { TransportMessage } from "../shared/mod.ts";

/** Options for {@link ReplyCache}. */
export interface ReplyCacheOptions {
  /** Calls remembered. Default 4096. */
  maxEntries?: number;
  /** Bytes of cached replies. Default 64 MiB; a reply over an eighth of it is not kept. */
  maxBytes?: number;
  /** How long a finished call's reply is kept (ms). Default 120000. */
  ttlMs?: number;
}

const PRUNE_EVERY = 256;

interface Entry {
  /** Set once the call finished. */
  reply?: Uint8Array;
  /** Resends that arrived while the call was still running. */
  waiting?: TransportMessage[];
  settledAt: number;
}

/** Recent calls' replies by call id (see the module doc). */
export class ReplyCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #ttlMs: number;
  #bytes = 0;
  #sincePrune = 0;

  constructor(options: ReplyCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 4096;
    this.#maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.#ttlMs = options.ttlMs ?? 120_000;
  }

  /** Calls remembered (running or finished). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * True when `callId` is new: the caller runs it and later calls {@link settle}. False for a resend, which this
   * answers itself (from the cache, or when the running call settles).
   */
  admit(callId: string, message: TransportMessage): boolean {
    const entry = this.#entries.get(callId);
    if (entry === undefined) {
      // The age sweep runs every PRUNE_EVERY calls, not on each: this is on every call's path.
      if (this.#entries.size >= this.#maxEntries || this.#bytes > this.#maxBytes || ++this.#sincePrune >= PRUNE_EVERY) {
        this.#prune();
      }
      this.#entries.set(callId, { settledAt: Number.NaN });
      return true;
    }
    if (entry.reply !== undefined) message.respond?.(entry.reply).catch(() => {});
    else (entry.waiting ??= []).push(message);
    return false;
  }

  /** Records the reply of `callId` and answers the resends that waited for it. */
  settle(callId: string, reply: Uint8Array): void {
    const entry = this.#entries.get(callId);
    if (entry === undefined) return; // evicted while running: its resends (if any) went with it
    for (const message of entry.waiting ?? []) message.respond?.(reply).catch(() => {});
    entry.waiting = undefined;
    if (reply.byteLength > this.#maxBytes / 8) {
      this.#entries.delete(callId);
      return;
    }
    entry.reply = reply;
    entry.settledAt = performance.now();
    this.#bytes += reply.byteLength;
  }

  /** Drops the oldest calls while over a bound, and finished ones older than the TTL from the front. */
  #prune(): void {
    this.#sincePrune = 0;
    const now = performance.now();
    for (const [callId, entry] of this.#entries) {
      const full = this.#entries.size >= this.#maxEntries || this.#bytes > this.#maxBytes;
      if (!full && !(now - entry.settledAt > this.#ttlMs)) return;
      this.#entries.delete(callId);
      this.#bytes -= entry.reply?.byteLength ?? 0;
    }
  }
}
