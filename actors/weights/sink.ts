/**
 * Where a download's chunks land in the `.part` file. Two ways, measured on this machine (CPU per byte stored):
 * - `map`: the file is mapped shared and each chunk is received straight into its final place (one copy, socket to
 *   page), its pages faulted in with one call first. On a tmpfs with huge pages (`huge=within_size`) that costs
 *   ~0.25 ns/B; on a plain tmpfs, 4 KiB pages make the faults cost ~1.0 ns/B.
 * - `write`: each stream receives into its own buffer and writes a checked chunk at its offset (two copies, but a
 *   plain tmpfs allocates pages for whole-page writes cheaper than faults): ~0.8 ns/B on /dev/shm.
 * The default picks `map` where the directory's mount has huge pages, `write` elsewhere; `COOP_WEIGHTS_RECEIVE`
 * (`map` | `write`) overrides it.
 */
import { SegmentSpaceError, WeightPlaneError } from "./errors.ts";
import { native, NativeSpaceError } from "./native.ts";
import { writeAll } from "./segment.ts";

/** The environment variable that forces a receive mode. */
export const RECEIVE_ENV = "COOP_WEIGHTS_RECEIVE";

/** How received chunks reach the file. */
export type ReceiveMode = "map" | "write";

/** One stream's view of the sink. */
export interface StreamSink {
  /** The bytes chunk `[start, end)` is received into. */
  into(start: number, end: number): Uint8Array;
  /** Stores a received, checked chunk (a write for `write`; already in place for `map`). */
  commit(start: number, bytes: Uint8Array): Promise<void>;
  close(): void;
}

/** A download's sink: one per `.part` file. */
export interface ChunkSink {
  readonly mode: ReceiveMode;
  stream(chunkBytes: number): Promise<StreamSink>;
  /** Releases the mapping (call once every stream is done). */
  close(): void;
}

/** The receive mode for a segment directory (see the module comment). */
export function receiveMode(dir: string): ReceiveMode {
  const forced = Deno.env.get(RECEIVE_ENV);
  if (forced === "map" || forced === "write") return native() === undefined ? "write" : forced;
  return native() !== undefined && hugePages(dir) ? "map" : "write";
}

/** Whether `dir` is on a tmpfs mounted with huge pages (always or within_size), per /proc/self/mounts. */
export function hugePages(dir: string): boolean {
  let real: string;
  let mounts: string;
  try {
    real = Deno.realPathSync(dir);
    mounts = Deno.readTextFileSync("/proc/self/mounts");
  } catch {
    return false;
  }
  let best = { point: "", huge: false };
  for (const line of mounts.split("\n")) {
    const [, point, type, options] = line.split(" ");
    if (point === undefined || type === undefined) continue;
    const inside = real === point || real.startsWith(point.endsWith("/") ? point : `${point}/`);
    if (!inside || point.length < best.point.length) continue;
    const huge = type === "tmpfs" && /(^|,)huge=(always|within_size)(,|$)/.test(options ?? "");
    best = { point, huge };
  }
  return best.huge;
}

/** Opens the sink for `part` (already sized to `bytes`). */
export function openSink(part: string, bytes: number, mode: ReceiveMode): ChunkSink {
  const lib = native();
  if (mode === "map" && lib !== undefined) {
    let view: Uint8Array;
    try {
      view = lib.mapWritable(part, bytes);
    } catch (error) {
      const message = `Cannot receive into ${part}: ${(error as Error).message}`;
      if (error instanceof NativeSpaceError) throw new SegmentSpaceError(message, { cause: error });
      throw new WeightPlaneError(message, { cause: error });
    }
    return {
      mode,
      stream: () =>
        Promise.resolve({
          into: (start, end) => view.subarray(start, end),
          commit: () => Promise.resolve(),
          close() {},
        }),
      close: () => void lib.unmap(view),
    };
  }
  return {
    mode: "write",
    async stream(chunkBytes) {
      // Its own handle: one seek position per stream.
      const file = await Deno.open(part, { write: true });
      const buffer = new Uint8Array(chunkBytes);
      return {
        into: (start, end) => buffer.subarray(0, end - start),
        async commit(start, received) {
          await file.seek(start, Deno.SeekMode.Start);
          await writeAll(file, received);
        },
        close: () => file.close(),
      };
    },
    close() {},
  };
}
