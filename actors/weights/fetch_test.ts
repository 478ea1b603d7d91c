import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Tensor } from "../../shared/tensor.ts";
import { digestBytes } from "./digest.ts";
import { WeightDigestError, WeightPlaneError } from "./errors.ts";
import { downloadSegment } from "./fetch.ts";
import { mapOrRead } from "./local.ts";
import { completeSegment, layoutSegment, segmentFile, type SegmentInfo, writeSegment } from "./segment.ts";
import { startWeightServer } from "./server.ts";
import { sendLine, WireReader } from "./wire.ts";

const KEY = { cluster: "t", name: "run.policy.v1", dtype: "float32" as const };
const TOKEN = "a-test-token-0123456789";
const CHUNK = 64 * 1024;

/** Publishes a ~1 MB segment into `dir` (owned by this process); returns its sidecar and file name. */
async function publishInto(
  dir: string,
  key = KEY,
  change = 0,
): Promise<{ info: SegmentInfo; file: string; data: Uint8Array }> {
  const values = Float32Array.from({ length: 250_000 }, (_, i) => Math.cos(i));
  const other = Float32Array.from({ length: 50_000 }, (_, i) => i + change);
  const tensors = new Map([
    ["w", new Tensor("float32", [values.length], values)],
    ["changing", new Tensor("float32", [other.length], other)],
  ]);
  const layout = layoutSegment(tensors, { version: "1" });
  const file = segmentFile(key, Deno.pid);
  const path = await writeSegment(dir, file, tensors, layout);
  const data = mapOrRead(path, layout.bytes).data;
  const digest = await digestBytes(data, { chunkBytes: CHUNK });
  const info = { ...digest, name: key.name, dtype: key.dtype, version: 1, pid: Deno.pid };
  await completeSegment(path, info);
  return { info, file, data };
}

async function withDirs(fn: (a: string, b: string) => Promise<void>): Promise<void> {
  const a = await Deno.makeTempDir();
  const b = await Deno.makeTempDir();
  try {
    await fn(a, b);
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
}

Deno.test("fetch - parallel ranged download; consumers on one host share it; the result is the published bytes", async () => {
  await withDirs(async (pub, host) => {
    const { info, file, data } = await publishInto(pub);
    const server = startWeightServer({ dir: pub, token: TOKEN });
    try {
      const source = { url: server.url, token: TOKEN, file };
      const [d1, d2] = await Promise.all([
        downloadSegment({ dir: host, key: KEY, info, source, streams: 4 }),
        downloadSegment({ dir: host, key: KEY, info, source, streams: 4 }),
      ]);
      strictEqual(d1.path, d2.path); // one download, one file
      deepStrictEqual([d1.fetched, d2.fetched].sort(), [false, true]);
      deepStrictEqual(mapOrRead(d1.path, info.bytes).data, data);
      deepStrictEqual([...Deno.readDirSync(host)].map((e) => e.name).sort(), [file, `${file}.json`]);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("fetch - the server refuses a wrong token, non-segment paths, a digest it does not hold, bad ranges", async () => {
  await withDirs(async (pub, host) => {
    const { info, file } = await publishInto(pub);
    await Deno.writeTextFile(join(pub, "secret.txt"), "no");
    const server = startWeightServer({ dir: pub, token: TOKEN });
    const url = new URL(server.url);
    try {
      const ask = async (request: Record<string, unknown>) => {
        using conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
        await sendLine(conn, { token: TOKEN, file, digest: info.digest, start: 0, end: 10, ...request });
        return (await new WireReader(conn).line() as { ok: boolean; status?: number }).status ?? 200;
      };
      strictEqual(await ask({ token: "wrong-token-0123456789" }), 401);
      strictEqual(await ask({ file: "secret.txt" }), 404);
      strictEqual(await ask({ file: "../a/secret.txt" }), 404);
      strictEqual(await ask({ file: `${file}.json` }), 404);
      strictEqual(await ask({ digest: "0".repeat(64) }), 404);
      strictEqual(await ask({ start: 5, end: info.bytes + 1 }), 416);
      strictEqual(await ask({}), 200);
      await rejects(
        downloadSegment({ dir: host, key: KEY, info, source: { url: server.url, token: "nope-nope-nope-nope", file } }),
        (e: Error) => e instanceof WeightPlaneError && /refused chunk \d+: 401/.test(e.message),
      );
      // Nothing half-done stays behind: no lock, no complete segment.
      ok([...Deno.readDirSync(host)].every((e) => e.name.endsWith(".part")));
    } finally {
      await server.stop();
    }
  });
});

Deno.test("fetch - a corrupted chunk fails the download with WeightDigestError and leaves no segment", async () => {
  await withDirs(async (pub, host) => {
    const { info, file } = await publishInto(pub);
    // Flip a byte in chunk 3 of the served file (its sidecar still has the true digest).
    using f = await Deno.open(join(pub, file), { read: true, write: true });
    await f.seek(3 * CHUNK + 10, Deno.SeekMode.Start);
    await f.write(new Uint8Array([0xab]));
    const server = startWeightServer({ dir: pub, token: TOKEN });
    try {
      await rejects(
        downloadSegment({ dir: host, key: KEY, info, source: { url: server.url, token: TOKEN, file }, attempts: 2 }),
        (e: Error) => e instanceof WeightDigestError && /chunk 3/.test(e.message),
      );
      deepStrictEqual([...Deno.readDirSync(host)], []);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("fetch - resumes a dead downloader's part file, fetching only the chunks that do not match", async () => {
  await withDirs(async (pub, host) => {
    const { info, file, data } = await publishInto(pub);
    const child = new Deno.Command("true").spawn();
    await child.status;
    // A dead downloader got the first half right and left garbage after it, plus its lock.
    const part = join(host, `${segmentFile(KEY, child.pid)}.part`);
    const partial = new Uint8Array(data.byteLength);
    partial.set(data.subarray(0, 8 * CHUNK));
    await Deno.writeFile(part, partial);
    await Deno.writeTextFile(join(host, `t@${KEY.name}@float32.lock`), String(child.pid));
    const fetched: number[] = [];
    const server = startWeightServer({ dir: pub, token: TOKEN });
    try {
      const source = { url: server.url, token: TOKEN, file };
      const onChunk = (index: number) => fetched.push(index);
      const { path } = await downloadSegment({ dir: host, key: KEY, info, source, onChunk });
      deepStrictEqual(mapOrRead(path, info.bytes).data, data);
      deepStrictEqual(fetched.sort((x, y) => x - y), Array.from({ length: info.chunks.length - 8 }, (_, i) => i + 8));
      deepStrictEqual([...Deno.readDirSync(host)].map((e) => e.name).sort(), [
        segmentFile(KEY, Deno.pid),
        `${segmentFile(KEY, Deno.pid)}.json`,
      ]);
    } finally {
      await server.stop();
    }
  });
});

Deno.test("fetch - a peer that stops answering is dropped after idleMs and the download fails typed", async () => {
  await withDirs(async (pub, host) => {
    const { info, file } = await publishInto(pub);
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of silent) held.push(conn); // accepts, reads nothing, answers nothing
    })().catch(() => {});
    try {
      const url = `tcp://127.0.0.1:${(silent.addr as Deno.NetAddr).port}`;
      const started = Date.now();
      await rejects(
        downloadSegment({ dir: host, key: KEY, info, source: { url, token: TOKEN, file }, idleMs: 200, attempts: 2 }),
        (e: Error) => e instanceof WeightPlaneError && /after 2 tries/.test(e.message),
      );
      ok(Date.now() - started < 10_000);
    } finally {
      silent.close();
      for (const conn of held) conn.close();
      await accepting;
    }
  });
});

Deno.test("fetch - the delta: chunks a version shares with one already on this host are copied, not fetched", async () => {
  await withDirs(async (pub, host) => {
    const v1 = await publishInto(pub);
    const key2 = { ...KEY, name: "run.policy.v2" };
    const v2 = await publishInto(pub, key2, 1);
    const server = startWeightServer({ dir: pub, token: TOKEN });
    try {
      const first = { url: server.url, token: TOKEN, file: v1.file };
      await downloadSegment({ dir: host, key: KEY, info: v1.info, source: first });
      const changed = v2.info.chunks.map((d, i) => (d === v1.info.chunks[i] ? -1 : i)).filter((i) => i >= 0);
      ok(changed.length > 0 && changed.length < v2.info.chunks.length / 2, `${changed.length} chunks changed`);
      const fetched: number[] = [];
      const source = { url: server.url, token: TOKEN, file: v2.file };
      const onChunk = (i: number) => fetched.push(i);
      const { path } = await downloadSegment({ dir: host, key: key2, info: v2.info, source, onChunk });
      deepStrictEqual(fetched.sort((a, b) => a - b), changed);
      deepStrictEqual(mapOrRead(path, v2.info.bytes).data, v2.data);
    } finally {
      await server.stop();
    }
  });
});
