/**
 * Weight segments: one published version as one file in a segment directory (on /dev/shm by default, so the file
 * is shared memory), in safetensors layout with every tensor at a page-aligned offset, so a consumer can map the
 * file and view its tensors in place. The offsets leave gaps between tensors, which Coop's reader accepts (the
 * strict Rust reader would not: segments are a transfer format, checkpoints stay plain safetensors).
 *
 * File names say who owns a file: `<cluster>@<name>@<dtype>@<pid>.st`. A segment is complete once its sidecar
 * `<file>.json` (the digest) exists; it is written last, atomically. The sweeper deletes the files of processes
 * that no longer exist, so a publisher or downloader killed mid-write leaks nothing past the next sweep.
 */
import { join } from "node:path";
import { layoutBytes, type SafetensorsLayout, safetensorsLayout } from "../../engine/io/mod.ts";
import type { Tensor } from "../../shared/mod.ts";
import { type WeightDigest } from "./digest.ts";
import { SegmentSpaceError, WeightPlaneError } from "./errors.ts";

/** Alignment of the data section and of every tensor in it. */
export const PAGE_BYTES = 4096;

const NAME = /^[A-Za-z0-9_.-]{1,200}$/;
const CLUSTER = /^[A-Za-z0-9_-]{1,64}$/;
const FILE = /^([A-Za-z0-9_-]{1,64})@([A-Za-z0-9_.-]{1,200})@(float32|float16|bfloat16)@(\d{1,10})\.st$/;

/** The dtypes a version can be published in. */
export type WeightDtype = "float32" | "float16" | "bfloat16";

/** What identifies one published variant of one version. */
export interface SegmentKey {
  cluster: string;
  /** The version's blob name, e.g. `<run>.policy.v12`. */
  name: string;
  dtype: WeightDtype;
}

/** A complete segment's sidecar. */
export interface SegmentInfo extends WeightDigest {
  name: string;
  dtype: WeightDtype;
  version: number;
  pid: number;
  /** The file as its verifier sealed it ({@link sealSegment}); absent from older sidecars and unsealable files. */
  seal?: SegmentSeal;
}

/**
 * What the process that checked a segment's bytes against its digest saw of the file once it was read-only: its
 * inode, size and times. Any later write, truncation, mode change or replacement of the file moves one of them.
 */
export interface SegmentSeal {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** Throws unless `key` is usable in a file name. */
export function checkKey(key: SegmentKey): SegmentKey {
  if (!CLUSTER.test(key.cluster)) throw new WeightPlaneError(`Invalid cluster "${key.cluster}" for a weight segment`);
  if (!NAME.test(key.name) || key.name.includes("..")) {
    throw new WeightPlaneError(`Invalid weight name "${key.name}": use 1-200 characters from A-Z, a-z, 0-9, _ . -`);
  }
  return key;
}

/** The file name of `key` owned by process `pid`. */
export function segmentFile(key: SegmentKey, pid: number): string {
  checkKey(key);
  return `${key.cluster}@${key.name}@${key.dtype}@${pid}.st`;
}

/** Parses a segment file name; `undefined` for anything else (which nothing here ever reads or deletes). */
export function parseSegmentFile(file: string): (SegmentKey & { pid: number }) | undefined {
  const m = FILE.exec(file);
  if (m === null || m[2]!.includes("..")) return undefined;
  return { cluster: m[1]!, name: m[2]!, dtype: m[3] as WeightDtype, pid: Number(m[4]) };
}

/** Header bytes and tensor offsets of a segment. */
export type SegmentLayout = SafetensorsLayout;

/** Lays tensors out page-aligned. */
export function layoutSegment(tensors: ReadonlyMap<string, Tensor>, metadata: Record<string, string>): SegmentLayout {
  return safetensorsLayout(tensors, { metadata, align: PAGE_BYTES });
}

/** Copies tensors into one buffer in segment layout (the Object Store copy when no segment file could be made). */
export const segmentBytes: (tensors: ReadonlyMap<string, Tensor>, layout: SegmentLayout) => Uint8Array = layoutBytes;

/** Total bytes of the segment files in `dir` (complete or not). */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of safeReadDir(dir)) {
    if (!entry.isFile || !/\.st(\.part)?$/.test(entry.name)) continue;
    try {
      total += Deno.statSync(join(dir, entry.name)).size;
    } catch { /* removed meanwhile */ }
  }
  return total;
}

function safeReadDir(dir: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
}

function isNoSpace(error: unknown): boolean {
  return /os error 28|ENOSPC|No space left/i.test(String((error as Error)?.message ?? error));
}

/** Options for {@link writeSegment}. */
export interface WriteSegmentOptions {
  /** Cap on the bytes of all segments in the directory; a write that would pass it fails with SegmentSpaceError. */
  maxBytes?: number;
}

/**
 * Writes `tensors` as segment `file` in `dir` through a `.part` file (renamed when complete), so no reader ever
 * sees half a segment; returns the path. The sidecar is written separately by {@link completeSegment}.
 */
export async function writeSegment(
  dir: string,
  file: string,
  tensors: ReadonlyMap<string, Tensor>,
  layout: SegmentLayout,
  options: WriteSegmentOptions = {},
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  if (options.maxBytes !== undefined && dirBytes(dir) + layout.bytes > options.maxBytes) {
    throw new SegmentSpaceError(
      `Cannot write weight segment ${file}: ${layout.bytes} bytes would pass the ${options.maxBytes}-byte cap of ${dir}`,
    );
  }
  const path = join(dir, file);
  const part = `${path}.part`;
  try {
    using handle = await Deno.open(part, { write: true, createNew: true, mode: 0o600 });
    await writeAll(handle, layout.head);
    let cursor = layout.head.byteLength;
    let i = 0;
    for (const tensor of tensors.values()) {
      const offset = layout.offsets[i++]!;
      if (offset > cursor) await handle.seek(offset, Deno.SeekMode.Start);
      await writeAll(handle, tensor.bytes());
      cursor = offset + tensor.data.byteLength;
    }
    await handle.truncate(layout.bytes);
    await Deno.rename(part, path);
    return path;
  } catch (error) {
    await Deno.remove(part).catch(() => {});
    if (isNoSpace(error)) {
      throw new SegmentSpaceError(`Cannot write weight segment ${file}: ${dir} is full`, { cause: error });
    }
    throw new WeightPlaneError(`Cannot write weight segment ${file} in ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Writes all of `bytes` (file.write may write less). */
export async function writeAll(handle: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.byteLength;) done += await handle.write(bytes.subarray(done));
}

/** Marks a segment complete: writes its sidecar atomically. */
export async function completeSegment(path: string, info: SegmentInfo): Promise<void> {
  const tmp = `${path}.json.part`;
  await Deno.writeTextFile(tmp, JSON.stringify(info), { mode: 0o600 });
  await Deno.rename(tmp, `${path}.json`);
}

/**
 * Makes a complete segment file read-only and returns its seal, to be recorded in its sidecar by the process whose
 * hashing the digest describes (the publisher, or the downloader that checked every chunk). Call it after the file's
 * last write and rename: both move its times. `undefined` where the file cannot be sealed (no chmod or no inode and
 * times on this filesystem): the segment is still complete, and its consumers hash it themselves.
 */
export function sealSegment(path: string): SegmentSeal | undefined {
  try {
    Deno.chmodSync(path, 0o444);
    return sealOf(Deno.statSync(path));
  } catch {
    return undefined;
  }
}

function sealOf(stat: Deno.FileInfo): SegmentSeal | undefined {
  if (stat.ino === null || stat.mtime === null || stat.ctime === null) return undefined;
  return { ino: stat.ino, size: stat.size, mtimeMs: stat.mtime.getTime(), ctimeMs: stat.ctime.getTime() };
}

/** True when `path` is still read-only and exactly the file `seal` describes (false without a seal). */
export function sealIntact(path: string, seal: SegmentSeal | undefined): boolean {
  if (seal === undefined) return false;
  let stat: Deno.FileInfo;
  try {
    stat = Deno.statSync(path);
  } catch {
    return false;
  }
  const now = sealOf(stat);
  if (now === undefined || stat.mode === null || (stat.mode & 0o222) !== 0) return false;
  return now.ino === seal.ino && now.size === seal.size && now.mtimeMs === seal.mtimeMs &&
    now.ctimeMs === seal.ctimeMs;
}

/** A complete segment of `key` in `dir` with `digest` (any owner), or `undefined`. */
export function findSegment(
  dir: string,
  key: SegmentKey,
  digest: string,
): { path: string; info: SegmentInfo } | undefined {
  checkKey(key);
  const prefix = `${key.cluster}@${key.name}@${key.dtype}@`;
  for (const entry of safeReadDir(dir)) {
    if (!entry.name.startsWith(prefix) || parseSegmentFile(entry.name) === undefined) continue;
    const path = join(dir, entry.name);
    const info = readSidecar(path);
    if (info?.digest === digest) return { path, info };
  }
  return undefined;
}

/** A segment's sidecar, or `undefined` when it is missing (segment incomplete) or unreadable. */
export function readSidecar(path: string): SegmentInfo | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(`${path}.json`)) as SegmentInfo;
  } catch {
    return undefined;
  }
}

/** True when process `pid` exists on this machine. */
export function alive(pid: number): boolean {
  if (pid === Deno.pid) return true;
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch (error) {
    // Only a missing /proc entry means gone: a sandboxed actor host may not read /proc at all (NotCapable), and
    // must then leave other processes' segments alone rather than sweep them as dead.
    return !(error instanceof Deno.errors.NotFound);
  }
}

/** Deletes segment files (and parts, sidecars, locks) whose owning process is gone; returns the names removed. */
export function sweepSegments(dir: string): string[] {
  const removed: string[] = [];
  for (const entry of safeReadDir(dir)) {
    const base = entry.name.replace(/(\.json)?(\.part)?$/, "").replace(/\.lock$/, "");
    const owner = ownerOf(dir, entry.name, base);
    if (owner === undefined || alive(owner)) continue;
    try {
      Deno.removeSync(join(dir, entry.name));
      removed.push(entry.name);
    } catch { /* raced with another sweeper */ }
  }
  return removed;
}

function ownerOf(dir: string, file: string, base: string): number | undefined {
  const parsed = parseSegmentFile(base);
  if (parsed !== undefined) return parsed.pid;
  // A lock names its holder inside the file.
  if (!file.endsWith(".lock") || !/^[A-Za-z0-9_-]+@[A-Za-z0-9_.-]+@[a-z0-9]+$/.test(base)) return undefined;
  try {
    const pid = Number(Deno.readTextFileSync(join(dir, file)));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Deletes the complete segments of version `name` in `dir` holding one of `digests` (any dtype or owner). */
export function removeSegments(dir: string, cluster: string, name: string, digests: readonly string[]): number {
  checkKey({ cluster, name, dtype: "float32" });
  let n = 0;
  for (const entry of safeReadDir(dir)) {
    const parsed = parseSegmentFile(entry.name);
    if (parsed === undefined || parsed.cluster !== cluster || parsed.name !== name) continue;
    const path = join(dir, entry.name);
    if (!digests.includes(readSidecar(path)?.digest ?? "")) continue;
    // Sidecar first: from that moment nobody starts using the segment.
    for (const file of [`${path}.json`, path]) {
      try {
        Deno.removeSync(file);
        n++;
      } catch { /* already gone */ }
    }
  }
  return n;
}
