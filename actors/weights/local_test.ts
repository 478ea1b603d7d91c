import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { digestBytes } from "./digest.ts";
import { WeightDigestError } from "./errors.ts";
import { mapOrRead, openSegment, releaseMapping } from "./local.ts";
import { native } from "./native.ts";
import { sealSegment, type SegmentInfo } from "./segment.ts";

/** The files this process maps right now (from the kernel, not from our own bookkeeping). */
function mappedFiles(): string[] {
  return Deno.readTextFileSync("/proc/self/maps").split("\n").map((l) => l.split(/\s+/).slice(5).join(" "));
}

Deno.test("local - a mapping is given back at once by releaseMapping; plain buffers and second calls are no-ops", () => {
  if (native() === undefined) {
    console.log("skipping: no FFI or libc here, so segments are read, never mapped");
    return;
  }
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "segment.bin");
    Deno.writeFileSync(path, new Uint8Array(3 * 4096).fill(9));
    const { data, mapped } = mapOrRead(path, 3 * 4096);
    strictEqual(mapped, true);
    strictEqual(data[4096], 9);
    strictEqual(mappedFiles().includes(path), true, "mapped while in use");
    strictEqual(releaseMapping(data), true);
    strictEqual(mappedFiles().includes(path), false, "unmapped right away, not at garbage collection");
    strictEqual(releaseMapping(data), false);
    deepStrictEqual(releaseMapping(new Uint8Array(8)), false);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("local - a sealed segment is trusted by its seal; any change to the file since makes the consumer hash it", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "t@m@float32@1.st");
    const bytes = Uint8Array.from({ length: 5 * 4096 }, (_, i) => (i * 7) & 255);
    Deno.writeFileSync(path, bytes);
    const digest = await digestBytes(bytes, { chunkBytes: 4096 });
    const info: SegmentInfo = { ...digest, name: "m", dtype: "float32", version: 1, pid: 1, seal: sealSegment(path) };
    strictEqual(Deno.statSync(path).mode! & 0o777, 0o444);
    strictEqual(info.seal?.size, bytes.byteLength);
    const checked = async (i: SegmentInfo | undefined) => {
      const opened = await openSegment(path, i, digest, "test");
      deepStrictEqual(opened.data, bytes);
      releaseMapping(opened.data);
      return opened.checked;
    };
    strictEqual(await checked(info), "sealed");
    strictEqual(await checked({ ...info, seal: undefined }), "hashed", "a sidecar from before seals");
    strictEqual(await checked({ ...info, digest: "0".repeat(64) }), "hashed", "sealed for another digest");
    // Made writable again (even if not written): no longer sealed.
    Deno.chmodSync(path, 0o644);
    strictEqual(await checked(info), "hashed");
    // Written and made read-only again: the seal no longer matches the file's times, and hashing finds the change.
    const changed = bytes.slice();
    changed[3 * 4096 + 5]! ^= 1;
    await new Promise((resolve) => setTimeout(resolve, 5)); // a later millisecond than the seal's stat
    Deno.writeFileSync(path, changed);
    Deno.chmodSync(path, 0o444);
    await rejects(
      openSegment(path, info, digest, "test"),
      (e: Error) => e instanceof WeightDigestError && /chunk 3 of 5/.test(e.message),
    );
    // Replaced by a file with the right bytes: hashed, and accepted.
    Deno.removeSync(path);
    Deno.writeFileSync(path, bytes, { mode: 0o444 });
    strictEqual(await checked(info), "hashed");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
