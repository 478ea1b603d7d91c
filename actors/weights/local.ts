/**
 * Reading a segment on this host: mapped in place when the native helpers load (no copy; pages shared with the
 * publisher and every other consumer of the version), otherwise read into one preallocated buffer — measured at
 * ~8x `Deno.readFile` on /dev/shm here, which grows its buffer as it goes. Either way the bytes are checked against
 * the version's digest before anyone parses them.
 */
import { chunkRange, sha256Hex, type WeightDigest } from "./digest.ts";
import { WeightDigestError, WeightPlaneError } from "./errors.ts";
import { native } from "./native.ts";
import { sealIntact, type SegmentInfo } from "./segment.ts";

/**
 * How a load's bytes were checked against the version's digest: `hashed` — this process hashed every byte (as it
 * arrived, or after mapping); `sealed` — this host's verifier did, once, and the file is still the read-only file
 * it sealed (`openSegment`).
 */
export type CheckedBy = "hashed" | "sealed";

/**
 * Maps a complete segment of this host for a consumer and checks it against `expected`: by its seal when the file
 * is still exactly the read-only file its verifier sealed (looked at before and after mapping, so a change in
 * between is caught too), otherwise by hashing every byte here. The bytes are released again when they do not match.
 */
export async function openSegment(
  path: string,
  info: SegmentInfo | undefined,
  expected: WeightDigest,
  source: string,
): Promise<{ data: Uint8Array; checked: CheckedBy }> {
  const sealed = () => info?.digest === expected.digest && sealIntact(path, info.seal);
  const before = sealed();
  const data = mapOrRead(path, expected.bytes).data;
  if (before && sealed()) return { data, checked: "sealed" };
  try {
    await verifyBytes(data, expected, source);
  } catch (error) {
    releaseMapping(data);
    throw error;
  }
  return { data, checked: "hashed" };
}

/** The first `bytes` bytes of `path`: mapped, or read into a new buffer. */
export function mapOrRead(path: string, bytes: number): { data: Uint8Array; mapped: boolean } {
  let size: number;
  try {
    size = Deno.statSync(path).size;
  } catch (error) {
    throw new WeightPlaneError(`Cannot read weight segment ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (size !== bytes) throw new WeightPlaneError(`Weight segment ${path} holds ${size} bytes, expected ${bytes}`);
  const lib = native();
  if (lib !== undefined) {
    try {
      return { data: lib.map(path, bytes), mapped: true };
    } catch { /* fall back to reading */ }
  }
  return { data: readInto(path, new Uint8Array(bytes)), mapped: false };
}

/**
 * Gives a mapping from {@link mapOrRead} back now (true), instead of when the array is collected — the garbage
 * collector does not count mapped bytes, so a retired version's pages could otherwise stay for a long time. False
 * for a plain buffer or one already released. Nothing may read `data` or a view of it afterwards.
 */
export function releaseMapping(data: Uint8Array): boolean {
  return native()?.unmap(data) ?? false;
}

/** Reads `path` into `out` (exactly its length). */
export function readInto(path: string, out: Uint8Array): Uint8Array {
  using file = Deno.openSync(path, { read: true });
  for (let done = 0; done < out.byteLength;) {
    const n = file.readSync(out.subarray(done));
    if (n === null) throw new WeightPlaneError(`Weight segment ${path} ended after ${done} of ${out.byteLength} bytes`);
    done += n;
  }
  return out;
}

/** Throws {@link WeightDigestError} (naming the first bad chunk) unless `data` hashes to `expected`. */
export async function verifyBytes(data: Uint8Array, expected: WeightDigest, source: string): Promise<void> {
  if (data.byteLength !== expected.bytes) {
    throw new WeightDigestError(`Weights from ${source} are ${data.byteLength} bytes, expected ${expected.bytes}`);
  }
  const count = expected.chunks.length;
  let next = 0;
  let bad: number | undefined;
  const worker = async () => {
    for (let i = next++; i < count && bad === undefined; i = next++) {
      const [start, end] = chunkRange(i, expected.chunkBytes, expected.bytes);
      if (await sha256Hex(data.subarray(start, end)) !== expected.chunks[i]) bad ??= i;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, navigator.hardwareConcurrency) }, worker));
  if (bad !== undefined) {
    throw new WeightDigestError(
      `Weights from ${source} do not match digest ${expected.digest.slice(0, 16)}…: chunk ${bad} of ${count} differs`,
    );
  }
}
