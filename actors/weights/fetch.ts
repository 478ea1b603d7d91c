/**
 * The data plane's client: downloads a segment from a peer's server (`server.ts`, over `wire.ts`) into this host's
 * segment directory, in chunk-sized byte ranges over several parallel TCP streams, checking each chunk's SHA-256 as it arrives (a corrupted
 * chunk is fetched again; one that stays wrong fails the download). Consumers on one host share one download: the
 * first takes the version's lock file, the others wait for the complete segment it leaves behind and map that. A
 * downloader that dies leaves its `.part` file and a lock naming a dead pid; the next consumer takes both over and
 * keeps every chunk of the part file that still matches its digest (resume), fetching only the rest.
 */
import { join } from "node:path";
import { chunkHasher, chunkRange, sha256Hex, type WeightDigest } from "./digest.ts";
import { WeightDigestError, WeightPlaneError } from "./errors.ts";
import {
  alive,
  completeSegment,
  findSegment,
  parseSegmentFile,
  readSidecar,
  sealSegment,
  segmentFile,
  type SegmentInfo,
  type SegmentKey,
  writeAll,
} from "./segment.ts";
import { DirWaiter } from "./dir_wait.ts";
import { openSink, type ReceiveMode, receiveMode } from "./sink.ts";
import { type RangeReply, type RangeRequest, sendLine, WireReader } from "./wire.ts";

// Small enough to stay in cache between the socket copy and the hash, big enough that each is one worker hop.
const HASH_PIECE_BYTES = 1 << 20;
// How often a waiting consumer looks again without a change in the directory (a lock holder that died).
const LOCK_RECHECK_MS = 250;

/** Where a segment can be downloaded from. */
export interface SegmentSource {
  /** The peer server's base URL. */
  url: string;
  /** Its bearer token. */
  token: string;
  /** The segment's file name on the peer. */
  file: string;
}

/** Options for {@link downloadSegment}. */
export interface DownloadOptions {
  /** This host's segment directory. */
  dir: string;
  key: SegmentKey;
  /** The version's digest (from its control record) and its sidecar fields. */
  info: Omit<SegmentInfo, "pid">;
  source: SegmentSource;
  /** Parallel range requests (default 4). */
  streams?: number;
  /** Attempts per chunk (default 3). */
  attempts?: number;
  /** Give up waiting for another consumer's download after this long (default 120 s). */
  waitMs?: number;
  /** A stream that makes no progress for this long is reconnected (default 30 s). */
  idleMs?: number;
  /** How chunks reach the file (default: {@link receiveMode} of `dir`). */
  receive?: ReceiveMode;
  /** Called with each chunk index once it is fetched, checked and written. */
  onChunk?: (index: number) => void;
}

/** A complete segment on this host after {@link downloadSegment}. */
export interface Downloaded {
  path: string;
  /** True when this call fetched it (every chunk hashed here), false when another consumer on this host did. */
  fetched: boolean;
  /** Its sidecar (with the seal its verifier recorded): what a consumer that did not fetch it checks it by. */
  info: SegmentInfo;
}

/**
 * Downloads (or waits for this host's shared download of) a segment: its local path, its sidecar and whether this
 * call fetched it. A fetched segment is sealed (`sealSegment`) before its sidecar appears.
 */
export async function downloadSegment(options: DownloadOptions): Promise<Downloaded> {
  const { dir, key, info } = options;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, `${key.cluster}@${key.name}@${key.dtype}.lock`);
  const deadline = Date.now() + (options.waitMs ?? 120_000);
  const waiter = new DirWaiter(dir);
  try {
    while (true) {
      const found = findSegment(dir, key, info.digest);
      if (found !== undefined) return { ...found, fetched: false };
      if (takeLock(lock)) break;
      if (Date.now() > deadline) {
        throw new WeightPlaneError(`Timed out waiting for this host's download of "${key.name}" (${lock})`);
      }
      // Woken by the sidecar that completes the segment or the released lock; the timer catches a dead holder.
      await waiter.wait(LOCK_RECHECK_MS);
    }
  } finally {
    waiter.close();
  }
  try {
    // The holder before us may have finished between our look and our lock.
    const found = findSegment(dir, key, info.digest);
    if (found !== undefined) return { ...found, fetched: false };
    return { ...await fetchInto(options), fetched: true };
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
}

/** Takes the lock file, or clears it when its holder is dead (the caller then tries again). */
function takeLock(lock: string): boolean {
  try {
    Deno.writeTextFileSync(lock, String(Deno.pid), { createNew: true, mode: 0o600 });
    return true;
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  let holder = NaN;
  try {
    holder = Number(Deno.readTextFileSync(lock));
  } catch { /* just released */ }
  // An empty lock is one being written this instant: leave it.
  if (Number.isInteger(holder) && holder > 0 && !alive(holder)) Deno.removeSync(lock);
  return false;
}

async function fetchInto(options: DownloadOptions): Promise<{ path: string; info: SegmentInfo }> {
  const { dir, key, info } = options;
  const path = join(dir, segmentFile(key, Deno.pid));
  const part = `${path}.part`;
  const resumed = adoptPart(dir, key, part);
  try {
    {
      using file = await Deno.open(part, { read: true, write: true, create: true, mode: 0o600 });
      await file.truncate(info.bytes);
    }
    const todo: number[] = [];
    for (let i = 0; i < info.chunks.length; i++) {
      if (!resumed || !(await chunkMatches(part, info, i))) todo.push(i);
    }
    await fetchChunks(part, await reuseLocalChunks(options, part, todo), options);
    await Deno.rename(part, path);
    // Every chunk was hashed as it landed in this file: this host's other consumers go by the seal from here on.
    const complete = { ...info, pid: Deno.pid, seal: sealSegment(path) };
    await completeSegment(path, complete);
    return { path, info: complete };
  } catch (error) {
    // A digest failure leaves nothing worth resuming; a network failure leaves good chunks for the next try.
    if (error instanceof WeightDigestError) await Deno.remove(part).catch(() => {});
    throw error;
  }
}

/** Renames a dead downloader's part file of `key` to `part`; true if there was one. */
function adoptPart(dir: string, key: SegmentKey, part: string): boolean {
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.name.endsWith(".st.part")) continue;
    const parsed = parseSegmentFile(entry.name.slice(0, -".part".length));
    if (parsed === undefined || parsed.cluster !== key.cluster || parsed.name !== key.name) continue;
    if (parsed.dtype !== key.dtype) continue;
    const from = join(dir, entry.name);
    if (from === part) return true;
    if (alive(parsed.pid)) continue;
    Deno.renameSync(from, part);
    return true;
  }
  return false;
}

async function chunkMatches(part: string, info: WeightDigest, index: number): Promise<boolean> {
  const [start, end] = chunkRange(index, info.chunkBytes, info.bytes);
  const buffer = await readRange(part, start, end);
  return buffer !== undefined && await sha256Hex(buffer) === info.chunks[index];
}

async function readRange(path: string, start: number, end: number): Promise<Uint8Array | undefined> {
  using file = await Deno.open(path, { read: true });
  await file.seek(start, Deno.SeekMode.Start);
  const buffer = new Uint8Array(end - start);
  for (let done = 0; done < buffer.byteLength;) {
    const n = await file.read(buffer.subarray(done));
    if (n === null) return undefined;
    done += n;
  }
  return buffer;
}

/**
 * The delta against versions this host already holds: a chunk whose digest a complete local segment (same cluster,
 * dtype and chunking) also has is copied from that file, not fetched. Consecutive versions share the layout, so
 * whatever did not change since the last version (frozen layers, embeddings) stays off the wire. Returns the
 * chunks still to fetch.
 */
async function reuseLocalChunks(options: DownloadOptions, part: string, todo: number[]): Promise<number[]> {
  const { dir, key, info } = options;
  const known = new Map<string, { path: string; start: number; end: number }>();
  for (const entry of Deno.readDirSync(dir)) {
    const parsed = parseSegmentFile(entry.name);
    if (parsed === undefined || parsed.cluster !== key.cluster || parsed.dtype !== key.dtype) continue;
    const path = join(dir, entry.name);
    const side = readSidecar(path);
    if (side === undefined || side.chunkBytes !== info.chunkBytes) continue;
    side.chunks.forEach((digest, i) => {
      const [start, end] = chunkRange(i, side.chunkBytes, side.bytes);
      if (!known.has(digest)) known.set(digest, { path, start, end });
    });
  }
  if (known.size === 0) return todo;
  const remaining: number[] = [];
  using out = await Deno.open(part, { write: true });
  for (const index of todo) {
    const [start, end] = chunkRange(index, info.chunkBytes, info.bytes);
    const from = known.get(info.chunks[index]!);
    const bytes = from !== undefined && from.end - from.start === end - start
      ? await readRange(from.path, from.start, from.end).catch(() => undefined)
      : undefined;
    // Checked like a downloaded chunk: a local file is no more trusted than the network.
    if (bytes === undefined || await sha256Hex(bytes) !== info.chunks[index]) {
      remaining.push(index);
      continue;
    }
    await out.seek(start, Deno.SeekMode.Start);
    await writeAll(out, bytes);
  }
  return remaining;
}

/**
 * Fetches `todo` chunks over parallel streams, each its own connection, into the part file's sink (straight into
 * the mapped file, or a stream buffer then written: `sink.ts`).
 */
async function fetchChunks(part: string, todo: number[], options: DownloadOptions): Promise<void> {
  const { info, source } = options;
  const url = new URL(source.url);
  if (url.protocol !== "tcp:") throw new WeightPlaneError(`Unsupported weight source ${source.url}: expected tcp://`);
  const address = { hostname: url.hostname, port: Number(url.port) };
  if (todo.length === 0) return;
  const sink = openSink(part, info.bytes, options.receive ?? receiveMode(options.dir));
  let next = 0;
  let failed = false;
  const stream = async () => {
    const out = await sink.stream(info.chunkBytes);
    const link = new Link(address, options.idleMs ?? 30_000);
    try {
      for (let t = next++; t < todo.length && !failed; t = next++) {
        const index = todo[t]!;
        const [start, end] = chunkRange(index, info.chunkBytes, info.bytes);
        const bytes = out.into(start, end);
        await fetchChunk(link, { token: source.token, file: source.file, digest: info.digest, start, end }, bytes, {
          index,
          expected: info.chunks[index]!,
          attempts: options.attempts ?? 3,
        });
        await out.commit(start, bytes);
        options.onChunk?.(index);
      }
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      link.close();
      out.close();
    }
  };
  // Every stream has stopped before the mapping goes: a read still landing in unmapped pages would crash us.
  const done = await Promise.allSettled(Array.from({ length: Math.min(options.streams ?? 4, todo.length) }, stream));
  sink.close();
  const rejected = done.find((d): d is PromiseRejectedResult => d.status === "rejected");
  if (rejected !== undefined) throw rejected.reason;
}

/** A refusal from the server: retrying cannot help. */
class Refused extends WeightPlaneError {
  override name = "WeightPlaneError";
}

async function fetchChunk(
  link: Link,
  request: RangeRequest,
  into: Uint8Array,
  chunk: { index: number; expected: string; attempts: number },
): Promise<void> {
  let last = "";
  for (let attempt = 1; attempt <= chunk.attempts; attempt++) {
    // Hashed as it lands, a piece at a time on a worker thread: when the last byte is in, little is left to hash.
    const hasher = chunkHasher();
    try {
      let hashed = 0;
      const reply = await link.request(request, into, (received) => {
        if (received - hashed < HASH_PIECE_BYTES && received < into.byteLength) return;
        hasher.update(into.subarray(hashed, received));
        hashed = received;
      });
      if (!reply.ok) throw new Refused(`Weight server refused chunk ${chunk.index}: ${reply.status} ${reply.error}`);
      if (await hasher.hex() === chunk.expected) return;
      last = `chunk ${chunk.index} does not match its digest`;
      if (attempt === chunk.attempts) {
        throw new WeightDigestError(`Cannot download ${request.file}: ${last} after ${chunk.attempts} tries`);
      }
    } catch (error) {
      // No hash may still be reading `into` once we return: the caller may unmap it.
      await hasher.hex().catch(() => {});
      if (error instanceof Refused || error instanceof WeightDigestError) throw error;
      link.close(); // a broken or stalled connection: reconnect for the next try
      last = (error as Error).message;
    }
  }
  throw new WeightPlaneError(
    `Cannot download chunk ${chunk.index} of ${request.file} after ${chunk.attempts} tries: ${last}`,
  );
}

/** One stream's connection, opened on first use and again after a failure; a stall past `idleMs` closes it. */
class Link {
  readonly #address: { hostname: string; port: number };
  readonly #idleMs: number;
  #conn: Deno.Conn | undefined;
  #reader: WireReader | undefined;

  constructor(address: { hostname: string; port: number }, idleMs: number) {
    this.#address = address;
    this.#idleMs = idleMs;
  }

  /** Sends `request` and reads its bytes into `into`, telling `onData` how many have arrived after each read. */
  async request(request: RangeRequest, into: Uint8Array, onData?: (received: number) => void): Promise<RangeReply> {
    if (this.#conn === undefined) {
      this.#conn = await Deno.connect(this.#address);
      this.#reader = new WireReader(this.#conn);
    }
    const conn = this.#conn;
    const watchdog = setTimeout(() => this.close(), this.#idleMs);
    try {
      await sendLine(conn, request);
      const reply = await this.#reader!.line() as RangeReply | null;
      if (reply === null) throw new WeightPlaneError("Weight server closed the connection");
      if (reply.ok && reply.bytes !== into.byteLength) {
        throw new WeightPlaneError(`Weight server sent ${reply.bytes} bytes for a ${into.byteLength}-byte chunk`);
      }
      if (reply.ok) await this.#reader!.fill(into, onData);
      return reply;
    } finally {
      clearTimeout(watchdog);
    }
  }

  close(): void {
    try {
      this.#conn?.close();
    } catch { /* closed */ }
    this.#conn = undefined;
    this.#reader = undefined;
  }
}
