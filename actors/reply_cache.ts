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

interface Entry {
  callId: string;
  /** Set once the call finished. */
  reply?: Uint8Array;
  /** Resends that arrived while the call was still running. */
  waiting?: TransportMessage[];
  settledAt: number;
}

/**
 * Recent calls' replies by call id (see the module doc). Eviction is first in, first out through a ring of the
 * entries in arrival order, O(1) per call. Sweeping the Map from its front instead (its insertion order) cost
 * 10-15 µs a call once the cache was full: V8 leaves deleted slots at the front of the table until it rehashes, and
 * every sweep walked over them again.
 */
export class ReplyCache {
  readonly #entries = new Map<string, Entry>();
  /** Entries in arrival order: `#ring[#head]` is the oldest of `#count`. */
  readonly #ring: (Entry | undefined)[];
  #head = 0;
  #count = 0;
  readonly #maxBytes: number;
  readonly #ttlMs: number;
  #bytes = 0;

  constructor(options: ReplyCacheOptions = {}) {
    this.#ring = new Array(Math.max(1, options.maxEntries ?? 4096));
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
    const known = this.#entries.get(callId);
    if (known === undefined) {
      this.#prune();
      const entry: Entry = { callId, settledAt: Number.NaN };
      this.#entries.set(callId, entry);
      this.#ring[(this.#head + this.#count++) % this.#ring.length] = entry;
      return true;
    }
    if (known.reply !== undefined) message.respond?.(known.reply).catch(() => {});
    else (known.waiting ??= []).push(message);
    return false;
  }

  /** Records the reply of `callId` and answers the resends that waited for it. */
  settle(callId: string, reply: Uint8Array): void {
    const entry = this.#entries.get(callId);
    if (entry === undefined) return; // evicted while running: its resends (if any) went with it
    for (const message of entry.waiting ?? []) message.respond?.(reply).catch(() => {});
    entry.waiting = undefined;
    if (reply.byteLength > this.#maxBytes / 8) {
      entry.settledAt = performance.now(); // its ring slot ages out like the others, and then removes nothing
      this.#entries.delete(callId);
      return;
    }
    entry.reply = reply;
    entry.settledAt = performance.now();
    this.#bytes += reply.byteLength;
  }

  /** Before a new call: drops the oldest while the ring is full or over the byte budget, then expired ones. */
  #prune(): void {
    const now = performance.now();
    while (this.#count > 0) {
      const oldest = this.#ring[this.#head]!;
      const full = this.#count >= this.#ring.length || this.#bytes > this.#maxBytes;
      // A running call (settledAt NaN) is never expired: the sweep stops at it, as at any younger entry.
      if (!full && !(now - oldest.settledAt > this.#ttlMs)) return;
      this.#ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#ring.length;
      this.#count--;
      if (this.#entries.get(oldest.callId) === oldest) {
        this.#entries.delete(oldest.callId);
        this.#bytes -= oldest.reply?.byteLength ?? 0;
      }
    }
  }
}
