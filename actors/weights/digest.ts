/**
 * Weight digests: a version's bytes are cut into fixed-size chunks, each chunk gets its SHA-256, and the version's
 * digest is the SHA-256 of the chunk digests in order (a hash list). Any change to any byte changes the digest, as
 * with one SHA-256 over the whole file; on top of that a chunk can be checked the moment it arrives (so a corrupted
 * chunk is fetched again, not the whole file) and chunks hash in parallel.
 */
import { createHash } from "node:crypto";
import type { Tensor } from "../../shared/mod.ts";
import { native } from "./native.ts";

/** Chunk size of digests and of data-plane ranges: small enough to retry cheaply, big enough for few requests. */
export const DIGEST_CHUNK_BYTES = 16 * 1024 * 1024;

/** A version's digest and the chunk digests it is made of. */
export interface WeightDigest {
  /** hex SHA-256 over the chunk digests. */
  digest: string;
  /** hex SHA-256 of each chunk. */
  chunks: string[];
  chunkBytes: number;
  bytes: number;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** hex SHA-256 of one chunk (native when available). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const lib = native();
  if (lib !== undefined) return hex(await lib.sha256(bytes));
  return createHash("sha256").update(bytes).digest("hex");
}

/** An incremental SHA-256 of one chunk, fed as its bytes arrive. */
export interface ChunkHasher {
  /** Adds the next bytes (they must stay unchanged until {@link ChunkHasher.hex} resolves). */
  update(bytes: Uint8Array): void;
  /** The hex digest of everything added. */
  hex(): Promise<string>;
}

/**
 * A {@link ChunkHasher}: native updates run on a worker thread, one after another, so a download hashes what has
 * landed while the rest of the chunk is still arriving (and the bytes are still in cache); node:crypto otherwise.
 */
export function chunkHasher(): ChunkHasher {
  const lib = native();
  if (lib === undefined) {
    const hash = createHash("sha256");
    return { update: (bytes) => void hash.update(bytes), hex: () => Promise.resolve(hash.digest("hex")) };
  }
  const stream = lib.sha256Stream();
  let failed: unknown;
  return {
    update: (bytes) => void stream.update(bytes).catch((error) => failed ??= error),
    hex: async () => {
      const digest = await stream.digest();
      if (failed !== undefined) throw failed;
      return hex(digest);
    },
  };
}

/** The version digest of the chunk digests. */
export function listDigest(chunks: readonly string[]): string {
  const hash = createHash("sha256");
  for (const chunk of chunks) hash.update(chunk, "hex");
  return hash.digest("hex");
}

/** Digests `bytes` in `chunkBytes` chunks, `parallel` chunks at a time (native hashing runs off the main thread). */
export async function digestBytes(
  bytes: Uint8Array,
  options: { chunkBytes?: number; parallel?: number } = {},
): Promise<WeightDigest> {
  const chunkBytes = options.chunkBytes ?? DIGEST_CHUNK_BYTES;
  const count = Math.ceil(bytes.byteLength / chunkBytes);
  const chunks = new Array<string>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      chunks[i] = await sha256Hex(bytes.subarray(i * chunkBytes, Math.min(bytes.byteLength, (i + 1) * chunkBytes)));
    }
  };
  const parallel = options.parallel ?? Math.max(1, navigator.hardwareConcurrency);
  await Promise.all(Array.from({ length: Math.min(parallel, Math.max(1, count)) }, worker));
  return { digest: listDigest(chunks), chunks, chunkBytes, bytes: bytes.byteLength };
}

/** Options for {@link digestTensors}. */
export interface DigestTensorsOptions {
  /**
   * Tensors the caller knows do not change between calls (a learner's frozen parameters): their per-tensor hashes
   * are taken from `hashes` when there, and stored there when computed. The caller clears `hashes` whenever such a
   * tensor may have changed (a checkpoint load, a roll-back).
   */
  unchanging?: { names: readonly string[]; hashes: Map<string, string> };
}

/**
 * The digest of weights that are never published (a colocated role reads its learner's live tensors): SHA-256
 * over each tensor's name, dtype, shape and the SHA-256 of its bytes, in name order — so it names the same weights
 * whatever order a map holds them in, and any changed value, shape or name changes it. Tensors hash two at a time
 * (native hashing runs off the main thread); nothing is copied.
 */
export async function digestTensors(
  tensors: ReadonlyMap<string, Tensor>,
  options: DigestTensorsOptions = {},
): Promise<string> {
  const names = [...tensors.keys()].sort();
  const hashes = new Array<string>(names.length);
  const unchanging = new Set(options.unchanging?.names ?? []);
  const cache = options.unchanging?.hashes;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < names.length; i = next++) {
      const name = names[i]!;
      const known = unchanging.has(name) ? cache?.get(name) : undefined;
      hashes[i] = known ?? await sha256Hex(tensors.get(name)!.bytes());
      if (known === undefined && unchanging.has(name)) cache?.set(name, hashes[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(2, Math.max(1, names.length)) }, worker));
  const hash = createHash("sha256");
  names.forEach((name, i) => {
    const t = tensors.get(name)!;
    hash.update(`${JSON.stringify([name, t.dtype, t.shape])}${hashes[i]}\n`);
  });
  return hash.digest("hex");
}

/** The byte range `[start, end)` of chunk `index`. */
export function chunkRange(index: number, chunkBytes: number, bytes: number): [number, number] {
  return [index * chunkBytes, Math.min(bytes, (index + 1) * chunkBytes)];
}
