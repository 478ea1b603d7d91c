/**
 * Crash-safe checkpoint directories. A checkpoint is built in a staging dir beside its final name; once every file
 * is in place each one is fsynced, a `manifest.json` listing every file's size and SHA-256 is written (temp file,
 * fsync, rename), and the staging dir is renamed to the final name and its parent fsynced. So a crash leaves either
 * the previous state or a complete checkpoint, never a half-written one under the final name; and a checkpoint
 * damaged later (a truncated file, a flipped byte) fails {@link verifyCheckpoint} with a digest error.
 */
import { createHash } from "node:crypto";
import { basename, dirname, join, relative } from "node:path";
import { CoopError } from "../../shared/mod.ts";

/** A checkpoint that is incomplete or whose files do not match its manifest. */
export class CheckpointIntegrityError extends CoopError {
  override name = "CheckpointIntegrityError";
}

/** The manifest's record of one file. */
export interface ManifestEntry {
  bytes: number;
  sha256: string;
}

/** `manifest.json`: every file of the checkpoint (paths relative to its dir, `/`-separated). */
export interface Manifest {
  format: 1;
  files: Record<string, ManifestEntry>;
}

/** The manifest's file name; its presence marks a complete checkpoint. */
export const MANIFEST = "manifest.json";

/** A file's size and SHA-256, read in chunks. */
export async function digestFile(path: string): Promise<ManifestEntry> {
  const hash = createHash("sha256");
  let bytes = 0;
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { bytes, sha256: hash.digest("hex") };
}

async function fsyncPath(path: string): Promise<void> {
  using file = await Deno.open(path, { read: true });
  await file.sync();
}

async function listFiles(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...await listFiles(path, root));
    else if (entry.isFile) out.push(relative(root, path));
    else throw new CheckpointIntegrityError(`Cannot checkpoint "${path}": not a regular file or directory`);
  }
  return out.sort();
}

/** Writes `data` to `path` through a temp file, fsync and rename: readers see the old or the new file, whole. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    using file = await Deno.open(temp, { write: true, createNew: true });
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    for (let written = 0; written < bytes.byteLength;) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  await Deno.rename(temp, path);
  await fsyncPath(dirname(path));
}

/** A staging dir beside `dir` for {@link commitCheckpoint} (created empty). */
export async function stagingDir(dir: string): Promise<string> {
  await Deno.mkdir(dirname(dir), { recursive: true });
  const staging = join(dirname(dir), `.${basename(dir)}.staging-${crypto.randomUUID().slice(0, 8)}`);
  await Deno.mkdir(staging);
  return staging;
}

/**
 * Seals `staging` (fsync every file, write the manifest) and renames it to `dir`, replacing a checkpoint already
 * there. Files may have been written by other processes (learners), so the fsync happens here, after they finish.
 */
export async function commitCheckpoint(staging: string, dir: string): Promise<Manifest> {
  const manifest: Manifest = { format: 1, files: {} };
  for (const file of await listFiles(staging)) {
    await fsyncPath(join(staging, file));
    manifest.files[file.split("\\").join("/")] = await digestFile(join(staging, file));
  }
  for (const sub of new Set(Object.keys(manifest.files).map((f) => dirname(join(staging, f))))) await fsyncPath(sub);
  await writeFileAtomic(join(staging, MANIFEST), JSON.stringify(manifest, null, 1));
  let old: string | undefined;
  try {
    await Deno.lstat(dir);
    old = `${staging}.old`;
    await Deno.rename(dir, old);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.rename(staging, dir);
  await fsyncPath(dirname(dir));
  if (old !== undefined) await Deno.remove(old, { recursive: true }).catch(() => {});
  return manifest;
}

/**
 * Builds a checkpoint in a staging dir beside `dir` with `fill`, then seals and renames it into place
 * ({@link commitCheckpoint}); a failure removes the staging dir and leaves `dir` as it was.
 */
export async function writeCheckpoint(dir: string, fill: (staging: string) => Promise<void>): Promise<Manifest> {
  const staging = await stagingDir(dir);
  try {
    await fill(staging);
    return await commitCheckpoint(staging, dir);
  } catch (error) {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    throw error;
  }
}

/** Checks every file of the checkpoint in `dir` against its manifest; throws {@link CheckpointIntegrityError}. */
export async function verifyCheckpoint(dir: string): Promise<Manifest> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await Deno.readTextFile(join(dir, MANIFEST)));
  } catch (error) {
    throw new CheckpointIntegrityError(
      `Checkpoint "${dir}" is incomplete: no readable ${MANIFEST} (${(error as Error).message})`,
    );
  }
  if (manifest?.format !== 1 || typeof manifest.files !== "object" || manifest.files === null) {
    throw new CheckpointIntegrityError(`Checkpoint "${dir}": ${MANIFEST} is not a Coop manifest (format 1)`);
  }
  await verifyFiles(dir, manifest.files);
  return manifest;
}

/** Checks the files of `dir` against manifest entries (paths relative to `dir`); throws {@link CheckpointIntegrityError}. */
export async function verifyFiles(dir: string, files: Manifest["files"]): Promise<void> {
  for (const [file, expected] of Object.entries(files)) {
    if (file.split("/").includes("..")) throw new CheckpointIntegrityError(`Checkpoint "${dir}": bad entry "${file}"`);
    let actual: ManifestEntry;
    try {
      actual = await digestFile(join(dir, file));
    } catch (error) {
      throw new CheckpointIntegrityError(`Checkpoint "${dir}": cannot read ${file}: ${(error as Error).message}`);
    }
    if (actual.bytes !== expected.bytes || actual.sha256 !== expected.sha256) {
      throw new CheckpointIntegrityError(
        `Checkpoint "${dir}": ${file} does not match its digest (${actual.bytes} bytes, sha256 ${
          actual.sha256.slice(0, 12)
        }…; manifest: ${expected.bytes} bytes, ${expected.sha256.slice(0, 12)}…)`,
      );
    }
  }
}

/**
 * The checkpoint to resume from: `dir` when it verifies, else the newest earlier `step-N` sibling that does
 * (checkpoints of one run sit side by side as `step-N`). Throws the first integrity error when none is good.
 */
export async function goodCheckpoint(dir: string): Promise<{ dir: string; skipped: string[] }> {
  const skipped: string[] = [];
  let first: unknown;
  try {
    await verifyCheckpoint(dir);
    return { dir, skipped };
  } catch (error) {
    first = error;
    skipped.push(`${dir}: ${(error as Error).message}`);
  }
  const step = /^step-(\d+)$/.exec(basename(dir))?.[1];
  if (step !== undefined) {
    const earlier: number[] = [];
    try {
      for await (const entry of Deno.readDir(dirname(dir))) {
        const n = /^step-(\d+)$/.exec(entry.name)?.[1];
        if (entry.isDirectory && n !== undefined && Number(n) < Number(step)) earlier.push(Number(n));
      }
    } catch { /* no siblings to fall back to */ }
    for (const n of earlier.sort((a, b) => b - a)) {
      const candidate = join(dirname(dir), `step-${n}`);
      try {
        await verifyCheckpoint(candidate);
        return { dir: candidate, skipped };
      } catch (error) {
        skipped.push(`${candidate}: ${(error as Error).message}`);
      }
    }
  }
  throw first;
}
