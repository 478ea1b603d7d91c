/**
 * The data plane's client: downloads a segment from a peer's server into this host's segment directory, in
 * chunk-sized byte ranges over several parallel streams, checking each chunk's SHA-256 as it arrives (a corrupted
 * chunk is fetched again; one that stays wrong fails the download). Consumers on one host share one download: the
 * first takes the version's lock file, the others wait for the complete segment it leaves behind and map that. A
 * downloader that dies leaves its `.part` file and a lock naming a dead pid; the next consumer takes both over and
 * keeps every chunk of the part file that still matches its digest (resume), fetching only the rest.
 */
import { join } from "node:path";
import { chunkRange, sha256Hex, type WeightDigest } from "./digest.ts";
import { WeightDigestError, WeightPlaneError } from "./errors.ts";
import {
  alive,
  completeSegment,
  findSegment,
  parseSegmentFile,
  segmentFile,
  type SegmentInfo,
  type SegmentKey,
  writeAll,
} from "./segment.ts";

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
}

/**
 * Downloads (or waits for this host's shared download of) a segment; returns the local path of the complete file
 * and whether this call fetched it (false: another consumer here did).
 */
export async function downloadSegment(options: DownloadOptions): Promise<{ path: string; fetched: boolean }> {
  const { dir, key, info } = options;
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const lock = join(dir, `${key.cluster}@${key.name}@${key.dtype}.lock`);
  const deadline = Date.now() + (options.waitMs ?? 120_000);
  while (true) {
    const found = findSegment(dir, key, info.digest);
    if (found !== undefined) return { path: found.path, fetched: false };
    if (takeLock(lock)) break;
    if (Date.now() > deadline) {
      throw new WeightPlaneError(`Timed out waiting for this host's download of "${key.name}" (${lock})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  try {
    // The holder before us may have finished between our look and our lock.
    const found = findSegment(dir, key, info.digest);
    if (found !== undefined) return { path: found.path, fetched: false };
    return { path: await fetchInto(options), fetched: true };
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

async function fetchInto(options: DownloadOptions): Promise<string> {
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
    await fetchChunks(part, todo, options);
    await Deno.rename(part, path);
    await completeSegment(path, { ...info, pid: Deno.pid });
    return path;
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
  using file = await Deno.open(part, { read: true });
  await file.seek(start, Deno.SeekMode.Start);
  const buffer = new Uint8Array(end - start);
  for (let done = 0; done < buffer.byteLength;) {
    const n = await file.read(buffer.subarray(done));
    if (n === null) return false;
    done += n;
  }
  return await sha256Hex(buffer) === info.chunks[index];
}

/** Fetches `todo` chunks over parallel streams, each with its own file handle (one seek position each). */
async function fetchChunks(part: string, todo: number[], options: DownloadOptions): Promise<void> {
  const { info, source } = options;
  const url = `${source.url}/v1/weights/${encodeURIComponent(source.file)}?digest=${info.digest}`;
  const headers = { authorization: `Bearer ${source.token}` };
  let next = 0;
  const stream = async () => {
    using file = await Deno.open(part, { write: true });
    for (let t = next++; t < todo.length; t = next++) {
      const index = todo[t]!;
      const [start, end] = chunkRange(index, info.chunkBytes, info.bytes);
      const bytes = await fetchChunk(url, headers, index, [start, end], info, options.attempts ?? 3);
      await file.seek(start, Deno.SeekMode.Start);
      await writeAll(file, bytes);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.streams ?? 4, Math.max(1, todo.length)) }, stream));
}

async function fetchChunk(
  url: string,
  headers: Record<string, string>,
  index: number,
  [start, end]: [number, number],
  info: WeightDigest,
  attempts: number,
): Promise<Uint8Array> {
  let last = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, { headers: { ...headers, range: `bytes=${start}-${end - 1}` } });
    } catch (error) {
      last = (error as Error).message;
      continue;
    }
    if (response.status !== 206) {
      await response.body?.cancel();
      // Refusals do not get better with retries.
      throw new WeightPlaneError(`Weight server refused chunk ${index} of ${url}: HTTP ${response.status}`);
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      last = (error as Error).message;
      continue;
    }
    if (bytes.byteLength === end - start && await sha256Hex(bytes) === info.chunks[index]) return bytes;
    last = `chunk ${index} (${bytes.byteLength} bytes) does not match its digest`;
    if (attempt === attempts) throw new WeightDigestError(`Cannot download ${url}: ${last} after ${attempts} tries`);
  }
  throw new WeightPlaneError(`Cannot download chunk ${index} of ${url} after ${attempts} tries: ${last}`);
}
