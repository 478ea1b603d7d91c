/**
 * The transport the runtime speaks to (nats.js v3 style: a transport-agnostic core, one adapter per backend).
 * Everything above `shared/` talks to this interface; `nats_transport.ts` implements it over NATS. Payloads are
 * opaque bytes here: messages larger than the server's max_payload are chunked and reassembled by the adapter,
 * so callers never see a size limit below `maxMessageBytes`.
 */
import { CoopError } from "./errors.ts";

/** One received message. `respond` is present when the sender asked for a reply (request/reply). */
export interface TransportMessage {
  subject: string;
  data: Uint8Array;
  /** Reply to a request; chunked transparently when large. */
  respond?(data: Uint8Array): Promise<void>;
}

/** A live subscription: iterate it, or `unsubscribe()`/`drain()` to end the iteration. */
export interface TransportSubscription extends AsyncIterable<TransportMessage> {
  readonly subject: string;
  unsubscribe(): void;
  drain(): Promise<void>;
}

/** Options for {@link Transport.request}. */
export interface RequestOptions {
  /** Give up after this long; the promise rejects with a `CallTimeoutError`. */
  timeoutMs: number;
}

/** Options for {@link Transport.subscribe}. */
export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  queue?: string;
  /**
   * Hot-path delivery: called synchronously for each message instead of queueing it for the async iterator (which
   * then yields nothing and ends when the subscription does). Skips a promise hop per message and lets replies
   * batch into one socket write. The callback must not throw; errors are the caller's to handle.
   */
  onMessage?: (msg: TransportMessage) => void;
}

/** A value with the revision it was written at (for compare-and-swap). */
export interface KvEntry {
  value: Uint8Array;
  revision: number;
}

/** A compare-and-swap write lost: the key was created or changed by someone else. */
export class KvConflictError extends CoopError {
  override name = "KvConflictError";
}

/** A key-value bucket (JetStream KV). Values are bytes; `null` means absent. */
export interface KvStore {
  get(key: string): Promise<Uint8Array | null>;
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  keys(prefix?: string): Promise<string[]>;
  /** The value and its revision; null when absent or deleted. */
  entry(key: string): Promise<KvEntry | null>;
  /** Writes `key` only if it is absent; returns the new revision, or throws {@link KvConflictError}. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes `key` only if its revision is still `revision`; returns the new one, or throws {@link KvConflictError}. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
}

/** Retention of a {@link MessageStream}. */
export interface StreamSpec {
  /** Stream name ([A-Za-z0-9_-]). */
  name: string;
  /** Subjects it captures (wildcards allowed); plain publishes on them are stored too. */
  subjects: string[];
  /** Messages kept per subject (oldest dropped first). Default unlimited. */
  maxMsgsPerSubject?: number;
  /** Messages older than this are dropped (ms). Default unlimited. */
  maxAgeMs?: number;
  /** Total size cap (bytes). Default unlimited. */
  maxBytes?: number;
  /** Replicas. Default: the transport's (`NatsConnectOptions.replicas`, COOP_NATS_REPLICAS), else 1. */
  replicas?: number;
}

/** One stored stream message. */
export interface StreamMessage {
  subject: string;
  seq: number;
  data: Uint8Array;
}

/** An append-only, persisted message stream (JetStream stream) with per-subject reads. */
export interface MessageStream {
  readonly name: string;
  /** Stores `data` on `subject` and resolves once the server has it (acknowledged publish); returns its seq. */
  append(subject: string, data: Uint8Array): Promise<number>;
  /** The stored messages of `subject` (no wildcards), oldest first, from `fromSeq` (default 1). */
  read(subject: string, options?: { fromSeq?: number }): AsyncIterable<StreamMessage>;
  /** Drops every stored message of `subject`. */
  purge(subject: string): Promise<void>;
}

/** Metadata of a stored blob. */
export interface BlobInfo {
  name: string;
  size: number;
  /** Content digest, e.g. "SHA-256=..." as NATS Object Store reports it. */
  digest: string;
  /** User version tag (e.g. a policy version), stored in the object's headers/metadata. */
  version?: string;
}

/** A blob store (JetStream Object Store) for data many actors read, such as model weights. */
export interface BlobStore {
  put(name: string, data: Uint8Array, options?: { version?: string }): Promise<BlobInfo>;
  /** Reads and verifies the digest; throws when the blob is missing or corrupt. */
  get(name: string): Promise<{ info: BlobInfo; data: Uint8Array }>;
  info(name: string): Promise<BlobInfo | null>;
  delete(name: string): Promise<void>;
}

/** Connection state changes, reported to whoever listens (`status()`). */
export type ConnectionEvent =
  | { type: "disconnect"; server?: string }
  | { type: "reconnecting" }
  | { type: "reconnect"; server?: string }
  | { type: "error"; error: Error };

/** The runtime's view of the message bus. */
export interface Transport {
  /** Largest message the adapter will carry (chunked above the server's max_payload). */
  readonly maxMessageBytes: number;
  publish(subject: string, data: Uint8Array): Promise<void>;
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Uint8Array>;
  subscribe(subject: string, options?: SubscribeOptions): TransportSubscription;
  kv(bucket: string): Promise<KvStore>;
  blobs(bucket: string): Promise<BlobStore>;
  /** Creates the stream (or updates its retention) and returns it. */
  stream(spec: StreamSpec): Promise<MessageStream>;
  /** Connection state events (disconnect/reconnect) as an async iterable. */
  status(): AsyncIterable<ConnectionEvent>;
  /** Flush pending writes to the server. */
  flush(): Promise<void>;
  /** Drain subscriptions and close the connection. */
  close(): Promise<void>;
}
