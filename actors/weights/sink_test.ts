import { strictEqual, throws } from "node:assert/strict";
import { join } from "node:path";
import { chunkHasher, sha256Hex } from "./digest.ts";
import { SegmentSpaceError } from "./errors.ts";
import { native } from "./native.ts";
import { hugePages, openSink, receiveMode } from "./sink.ts";

/** Runs `fn` on a fresh tmpfs mounted with `options` (needs root; otherwise skipped with the reason printed). */
async function withTmpfs(options: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const mount = await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", options, "coop-test", dir] })
      .output().catch(() => undefined);
    if (!mount?.success) {
      console.log(
        `skipped: cannot mount a tmpfs here (${mount ? new TextDecoder().decode(mount.stderr) : "no mount"})`,
      );
      return;
    }
    try {
      await fn(dir);
    } finally {
      await new Deno.Command("umount", { args: [dir] }).output();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + (i >> 9)) & 255);

Deno.test("sink - the incremental hash of pieces is the chunk's SHA-256", async () => {
  const data = bytes(3 * 1024 * 1024 + 17);
  const hasher = chunkHasher();
  for (let at = 0; at < data.byteLength; at += 700_001) hasher.update(data.subarray(at, at + 700_001));
  strictEqual(await hasher.hex(), await sha256Hex(data));
});

Deno.test("sink - huge-page tmpfs is detected and received into in place; a plain directory writes", async () => {
  const plain = await Deno.makeTempDir();
  strictEqual(hugePages(plain), false);
  await Deno.remove(plain);
  await withTmpfs("size=64m,huge=within_size", async (dir) => {
    strictEqual(hugePages(dir), true);
    strictEqual(hugePages(join(dir, ".")), true);
    strictEqual(receiveMode(dir), native() === undefined ? "write" : "map");
    for (const mode of ["map", "write"] as const) {
      const part = join(dir, `${mode}.part`);
      const data = bytes(5 * 1024 * 1024);
      Deno.writeFileSync(part, new Uint8Array(0));
      await Deno.truncate(part, data.byteLength);
      const sink = openSink(part, data.byteLength, mode);
      const chunk = 2 * 1024 * 1024;
      // Two streams, out of order: each chunk lands at its own offset.
      await Promise.all([[2, 0], [1]].map(async (indices) => {
        const stream = await sink.stream(chunk);
        for (const i of indices) {
          const [start, end] = [i * chunk, Math.min(data.byteLength, (i + 1) * chunk)];
          const into = stream.into(start, end);
          into.set(data.subarray(start, end));
          await stream.commit(start, into);
        }
        stream.close();
      }));
      sink.close();
      strictEqual(await sha256Hex(Deno.readFileSync(part)), await sha256Hex(data));
    }
  });
});

Deno.test("sink - a mapped receive into a full filesystem fails typed up front (no SIGBUS later)", async () => {
  if (native() === undefined) return console.log("skipped: no native helpers (FFI) for mapped receives");
  await withTmpfs("size=1m,huge=within_size", async (dir) => {
    const part = join(dir, "full.part");
    Deno.writeFileSync(part, new Uint8Array(0));
    await Deno.truncate(part, 8 * 1024 * 1024);
    throws(() => openSink(part, 8 * 1024 * 1024, "map"), SegmentSpaceError);
  });
});
