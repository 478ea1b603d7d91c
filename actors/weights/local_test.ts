import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { mapOrRead, releaseMapping } from "./local.ts";
import { native } from "./native.ts";

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
