/**
 * JetStream KV and Object Store behind the {@link KvStore} and {@link BlobStore} interfaces. Blobs carry a version
 * tag in the object's metadata and are checked against their SHA-256 digest on every read. Operations that are
 * safe to repeat (reads, puts, deletes) are retried through a NATS disconnect or server restart
 * (`retryTransient`); compare-and-swap writes are not: a lost reply leaves unknown whether they took effect, and
 * their callers re-read on a conflict anyway.
 */
import type { KV } from "@nats-io/kv";
import { JetStreamApiCodes } from "@nats-io/jetstream";
import type { ObjectInfo, ObjectStore } from "@nats-io/obj";
import { retryTransient } from "./connection_loss.ts";
import { BlobIntegrityError, MessageTooLargeError, NotFoundError } from "./errors.ts";
import { type BlobInfo, type BlobStore, KvConflictError, type KvEntry, type KvStore } from "./transport.ts";

// Room left in max_payload for the subject and headers JetStream adds to a KV put.
const KV_HEADER_ROOM = 4096;

/** Metadata key holding a blob's version tag. */
export const BLOB_VERSION_KEY = "coop-version";

/** {@link KvStore} over a JetStream KV bucket. */
export class NatsKvStore implements KvStore {
  readonly #kv: KV;
  readonly #bucket: string;
  readonly #maxPayload: () => number;

  constructor(kv: KV, bucket: string, maxPayload: () => number) {
    this.#kv = kv;
    this.#bucket = bucket;
    this.#maxPayload = maxPayload;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const entry = await retryTransient(() => this.#kv.get(key));
    return entry === null || entry.operation !== "PUT" ? null : entry.value;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    this.#checkSize(key, value);
    await retryTransient(() => this.#kv.put(key, value));
  }

  #checkSize(key: string, value: Uint8Array): void {
    // A KV value is one JetStream message (not chunked); say so instead of surfacing MAX_PAYLOAD_EXCEEDED.
    if (value.byteLength > this.#maxPayload() - KV_HEADER_ROOM) {
      throw new MessageTooLargeError(
        `Cannot put "${key}" in KV bucket "${this.#bucket}": ${value.byteLength} bytes exceeds the server's ` +
          `max_payload (${this.#maxPayload()}); store large values as blobs`,
      );
    }
  }

  async delete(key: string): Promise<void> {
    await retryTransient(() => this.#kv.delete(key));
  }

  async entry(key: string): Promise<KvEntry | null> {
    const entry = await retryTransient(() => this.#kv.get(key));
    return entry === null || entry.operation !== "PUT" ? null : { value: entry.value, revision: entry.revision };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.#checkSize(key, value);
    return await this.#kv.create(key, value).catch((error) => Promise.reject(this.#conflict(key, error)));
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    this.#checkSize(key, value);
    return await this.#kv.update(key, value, revision).catch((error) => Promise.reject(this.#conflict(key, error)));
  }

  /** A wrong-last-sequence answer means another writer got there first: a {@link KvConflictError}. */
  #conflict(key: string, error: unknown): unknown {
    // Duck-typed: @nats-io/kv may carry its own copy of the jetstream error classes.
    const code = (error as { code?: unknown } | null)?.code;
    if (
      code !== JetStreamApiCodes.StreamWrongLastSequence && code !== JetStreamApiCodes.StreamWrongLastSequenceUnknown
    ) {
      return error;
    }
    return new KvConflictError(`Key "${key}" in KV bucket "${this.#bucket}" was changed by another writer`, {
      cause: error,
    });
  }

  async keys(prefix = ""): Promise<string[]> {
    // Server-side filtering only works on whole tokens, so a "prefix." prefix is filtered there, others here.
    const filter = prefix.endsWith(".") ? `${prefix}>` : undefined;
    return await retryTransient(async () => {
      const out: string[] = [];
      for await (const key of await this.#kv.keys(filter)) {
        if (key.startsWith(prefix)) out.push(key);
      }
      return out.sort();
    });
  }
}

function toBlobInfo(info: ObjectInfo): BlobInfo {
  const version = info.metadata?.[BLOB_VERSION_KEY];
  return { name: info.name, size: info.size, digest: info.digest, ...(version === undefined ? {} : { version }) };
}

/** {@link BlobStore} over a JetStream Object Store bucket. */
export class NatsBlobStore implements BlobStore {
  readonly #store: ObjectStore;
  readonly #bucket: string;
  readonly #chunkBytes: () => number;

  constructor(store: ObjectStore, bucket: string, chunkBytes: () => number) {
    this.#store = store;
    this.#bucket = bucket;
    this.#chunkBytes = chunkBytes;
  }

  async put(name: string, data: Uint8Array, options: { version?: string } = {}): Promise<BlobInfo> {
    const info = await retryTransient(() =>
      this.#store.putBlob({
        name,
        metadata: options.version === undefined ? undefined : { [BLOB_VERSION_KEY]: options.version },
        // Chunks as large as the server allows: fewer JetStream messages for multi-GB weights.
        options: { max_chunk_size: this.#chunkBytes() },
      }, data)
    );
    return toBlobInfo(info);
  }

  get(name: string): Promise<{ info: BlobInfo; data: Uint8Array }> {
    return retryTransient(() => this.#read(name));
  }

  async #read(name: string): Promise<{ info: BlobInfo; data: Uint8Array }> {
    const result = await this.#store.get(name);
    if (result === null) throw new NotFoundError(`Blob "${name}" not found in bucket "${this.#bucket}"`);
    const info = toBlobInfo(result.info);
    const corrupt = (detail: string, cause?: unknown) =>
      new BlobIntegrityError(`Blob "${name}" in bucket "${this.#bucket}" is corrupt: ${detail}`, { cause });
    // Read into one buffer of the recorded size instead of nats.js's growing buffer (one copy per chunk).
    let data: Uint8Array;
    try {
      data = new Uint8Array(info.size);
    } catch (error) {
      throw corrupt(`cannot allocate its recorded size of ${info.size} bytes`, error);
    }
    let offset = 0;
    const reader = result.data.getReader();
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        if (offset + value.byteLength > data.byteLength) throw corrupt(`more than the recorded ${info.size} bytes`);
        data.set(value, offset);
        offset += value.byteLength;
      }
    } catch (error) {
      if (error instanceof BlobIntegrityError) throw error;
      throw corrupt((error as Error).message, error);
    } finally {
      reader.releaseLock();
    }
    // nats.js checks the SHA-256 digest while streaming and reports a mismatch here.
    const streamError = await result.error;
    if (streamError) throw corrupt(streamError.message, streamError);
    if (offset !== info.size) throw corrupt(`got ${offset} of the recorded ${info.size} bytes`);
    return { info, data };
  }

  async info(name: string): Promise<BlobInfo | null> {
    const info = await retryTransient(() => this.#store.info(name));
    return info === null || info.deleted ? null : toBlobInfo(info);
  }

  async delete(name: string): Promise<void> {
    await retryTransient(async () => {
      if ((await this.#store.info(name)) !== null) await this.#store.delete(name);
    });
  }
}
