import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { parseSafetensors } from "../../engine/io/mod.ts";
import { Tensor } from "../../shared/tensor.ts";
import { digestBytes, listDigest, sha256Hex } from "./digest.ts";
import { SegmentSpaceError, WeightDigestError } from "./errors.ts";
import { mapOrRead, verifyBytes } from "./local.ts";
import { castTensors } from "./precision.ts";
import {
  completeSegment,
  findSegment,
  layoutSegment,
  PAGE_BYTES,
  parseSegmentFile,
  removeSegments,
  segmentBytes,
  segmentFile,
  sweepSegments,
  writeSegment,
} from "./segment.ts";
import { toFloat32 } from "../../engine/io/safetensors.ts";

const KEY = { cluster: "t", name: "run1.policy.v3", dtype: "float32" as const };

function weights(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ["a", new Tensor("float32", [3, 5], Float32Array.from({ length: 15 }, (_, i) => i * 0.5 - 3))],
    ["b", new Tensor("float32", [1000], Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i)))],
    ["c", new Tensor("int64", [2], new BigInt64Array([7n, -1n]))],
  ]);
}

/** A pid that certainly belongs to no running process: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("segment - tensors sit page-aligned and read back through the safetensors parser", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tensors = weights();
    const layout = layoutSegment(tensors, { version: "3" });
    ok(layout.offsets.every((o) => o % PAGE_BYTES === 0));
    const path = await writeSegment(dir, segmentFile(KEY, Deno.pid), tensors, layout);
    const { data } = mapOrRead(path, layout.bytes);
    deepStrictEqual(data, segmentBytes(tensors, layout));
    const parsed = parseSafetensors(data);
    strictEqual(parsed.metadata.version, "3");
    for (const [name, t] of tensors) deepStrictEqual(parsed.tensors.get(name)!.data, t.data);
    // Incomplete until its sidecar exists.
    const digest = await digestBytes(data, { chunkBytes: 4096 });
    strictEqual(findSegment(dir, KEY, digest.digest), undefined);
    await completeSegment(path, { ...digest, name: KEY.name, dtype: "float32", version: 3, pid: Deno.pid });
    strictEqual(findSegment(dir, KEY, digest.digest)?.path, path);
    strictEqual(findSegment(dir, KEY, "0".repeat(64)), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("digest - a hash list over chunks: any flipped byte changes it, and names the chunk", async () => {
  const data = new Uint8Array(10_000).map((_, i) => i * 7);
  const d = await digestBytes(data, { chunkBytes: 4096 });
  strictEqual(d.chunks.length, 3);
  strictEqual(d.chunks[1], createHash("sha256").update(data.subarray(4096, 8192)).digest("hex"));
  strictEqual(d.digest, listDigest(d.chunks));
  strictEqual(await sha256Hex(data), createHash("sha256").update(data).digest("hex"));
  await verifyBytes(data, d, "test");
  const bad = data.slice();
  bad[5000]! ^= 1;
  strictEqual((await digestBytes(bad, { chunkBytes: 4096 })).digest === d.digest, false);
  await rejects(
    verifyBytes(bad, d, "test"),
    (e: Error) => e instanceof WeightDigestError && /chunk 1 of 3/.test(e.message),
  );
  await rejects(verifyBytes(data.subarray(1), d, "test"), WeightDigestError);
});

Deno.test("segment - a byte cap refuses the write with SegmentSpaceError and leaves no file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tensors = weights();
    const layout = layoutSegment(tensors, {});
    await rejects(
      writeSegment(dir, segmentFile(KEY, Deno.pid), tensors, layout, { maxBytes: layout.bytes - 1 }),
      SegmentSpaceError,
    );
    deepStrictEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("segment - the sweeper removes files of dead owners only; retiring removes a version's files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const dead = await deadPid();
    const mine = segmentFile(KEY, Deno.pid);
    const theirs = segmentFile(KEY, dead);
    for (const f of [mine, `${theirs}.part`, `${theirs}`, `${theirs}.json`, "unrelated.txt"]) {
      await Deno.writeTextFile(join(dir, f), "x");
    }
    await Deno.writeTextFile(join(dir, `${mine}.json`), JSON.stringify({ digest: "d1" }));
    await Deno.writeTextFile(join(dir, `t@${KEY.name}@float32.lock`), String(dead));
    const removed = sweepSegments(dir).sort();
    deepStrictEqual(removed, [`${theirs}`, `${theirs}.json`, `${theirs}.part`, `t@${KEY.name}@float32.lock`].sort());
    strictEqual(removeSegments(dir, "t", KEY.name, ["other"]), 0);
    strictEqual(removeSegments(dir, "t", KEY.name, ["d1"]), 2);
    deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["unrelated.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("segment - file names refuse separators and traversal", () => {
  strictEqual(parseSegmentFile("t@../x@float32@1.st"), undefined);
  strictEqual(parseSegmentFile("t@a/b@float32@1.st"), undefined);
  strictEqual(parseSegmentFile("t@a@float32@1.st.json"), undefined);
  deepStrictEqual(parseSegmentFile("t@a.v1@bfloat16@12.st"), {
    cluster: "t",
    name: "a.v1",
    dtype: "bfloat16",
    pid: 12,
  });
});

Deno.test("precision - bf16 and fp16 casts round to nearest and widen back close to the original", () => {
  const values = Float32Array.from([0, 1, -2.5, 3.14159, 1e-3, 65504, 1e6, -0.1, 6e-8]);
  const src = new Map<string, Tensor>([["w", new Tensor("float32", [values.length], values)]]);
  const bf = toFloat32(castTensors(src, "bfloat16").get("w")!).data;
  const fp = toFloat32(castTensors(src, "float16").get("w")!).data;
  values.forEach((v, i) => {
    ok(Math.abs(bf[i]! - v) <= Math.abs(v) * 2 ** -8, `bf16 ${v} -> ${bf[i]}`);
    if (Math.abs(v) <= 65504 && Math.abs(v) > 6.1e-5) ok(Math.abs(fp[i]! - v) <= Math.abs(v) * 2 ** -11, `fp16 ${v}`);
  });
  strictEqual(fp[6], Infinity); // 1e6 overflows half
  strictEqual(bf[1], 1);
  strictEqual(castTensors(src, "float32"), src);
});
