import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { parseSafetensors, toFloat32 } from "../../engine/io/mod.ts";
import { connectNats, type NatsTransport } from "../../shared/nats_transport.ts";
import { Tensor } from "../../shared/tensor.ts";
import { retireWeights, WeightPlane, WeightPlaneError } from "../../actors/weights/mod.ts";
import { startWeightServer } from "../../actors/weights/server.ts";
import { startNats } from "../harness.ts";
import { eventually } from "./cluster_fixture.ts";

const CLUSTER = "wt";
const PEER = new URL("./fixtures/weights_peer.ts", import.meta.url).pathname;
const TOKEN = "weights-test-token-0123456789";

function weights(n = 300_000): Map<string, Tensor> {
  const a = n > 1e6 ? new Float32Array(n).fill(0.25) : Float32Array.from({ length: n }, (_, i) => Math.sin(i));
  return new Map<string, Tensor>([
    ["a", new Tensor("float32", [n], a)],
    ["b", new Tensor("float32", [7, 3], Float32Array.from({ length: 21 }, (_, i) => i))],
  ]);
}

function files(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

interface World {
  url: string;
  transport: NatsTransport;
  /** Two emulated hosts: their segment directories. */
  hostA: string;
  hostB: string;
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const server = await startNats();
  const transport = await connectNats({ servers: server.url });
  const root = await Deno.makeTempDir({ prefix: "coop-weights-" });
  try {
    await fn({ url: server.url, transport, hostA: join(root, "a"), hostB: join(root, "b") });
  } finally {
    await transport.close();
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
}

function spawnPeer(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), { args: ["run", "-A", PEER, ...args], stdout: "piped", stderr: "piped" })
    .spawn();
}

/** A publisher whose directory is served to other hosts, as a node agent serves it. */
function servedPublisher(transport: NatsTransport, dir: string, options: { durable?: "none" } = {}) {
  const server = startWeightServer({ dir, token: TOKEN });
  const publisher = new WeightPlane({
    cluster: CLUSTER,
    transport,
    dir,
    server: { url: server.url, token: TOKEN },
    ...options,
  });
  return { server, publisher };
}

/** SIGKILLs `child` as soon as a half-written file shows up in `dir`: mid-publish, or mid-download. */
async function killWhenPartAppears(child: Deno.ChildProcess, dir: string): Promise<void> {
  const part = () => Promise.resolve(files(dir).some((f) => f.endsWith(".part")) ? true : undefined);
  await eventually(`a half-written file in ${dir}`, part, 30_000);
  child.kill("SIGKILL");
  await child.output();
}

Deno.test({
  name: "weights - same host maps the segment, another host downloads once for its consumers, bf16 halves the bytes",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withWorld(async ({ transport, hostA, hostB }) => {
      const { server, publisher } = servedPublisher(transport, hostA);
      try {
        const [fp32, bf16] = await publisher.publish("r.policy.v1", 1, weights(), { dtypes: ["float32", "bfloat16"] });
        ok(fp32!.segment && bf16!.segment);
        ok(bf16!.bytes < fp32!.bytes * 0.51, `bf16 ${bf16!.bytes} vs fp32 ${fp32!.bytes}`);
        const same = await new WeightPlane({ cluster: CLUSTER, transport, dir: hostA }).load("r.policy.v1");
        // The publisher hashed the sealed file it maps: a same-host consumer goes by the seal, no second pass.
        deepStrictEqual([same.via, same.checked], ["shm", "sealed"]);
        strictEqual(same.digest, fp32!.digest);
        deepStrictEqual(parseSafetensors(same.data).tensors.get("a")!.data, weights().get("a")!.data);
        // Two consumers on host B: one download between them, both get the same checked bytes.
        const [b1, b2] = await Promise.all([
          new WeightPlane({ cluster: CLUSTER, transport, dir: hostB }).load("r.policy.v1"),
          new WeightPlane({ cluster: CLUSTER, transport, dir: hostB }).load("r.policy.v1"),
        ]);
        // One verification on host B too: the downloader hashed every chunk, the other consumer maps its seal.
        deepStrictEqual([b1, b2].map((b) => `${b.via}/${b.checked}`).sort(), ["http/hashed", "shm/sealed"]);
        deepStrictEqual(b1.data, same.data);
        strictEqual(files(hostB).filter((f) => f.endsWith(".st")).length, 1);
        const half = await new WeightPlane({ cluster: CLUSTER, transport, dir: hostB }).load("r.policy.v1", "bfloat16");
        strictEqual(half.via, "http");
        const a = toFloat32(parseSafetensors(half.data).tensors.get("a")!).data;
        ok(a.every((v, i) => Math.abs(v - Math.sin(i)) < 2 ** -8));
        // Retiring drops the record, the blobs and every host's segments.
        await retireWeights(transport, CLUSTER, "r.policy.v1");
        strictEqual(await publisher.manifest("r.policy.v1"), null);
      } finally {
        publisher.close();
        await server.stop();
      }
    });
  },
});

Deno.test({
  name: "weights - retired versions' segments are deleted by every listening host; the durable copy goes too",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withWorld(async ({ transport, hostA, hostB }) => {
      const a = new WeightPlane({ cluster: CLUSTER, transport, dir: hostA });
      const b = new WeightPlane({ cluster: CLUSTER, transport, dir: hostB });
      a.listenForRetired();
      b.listenForRetired();
      try {
        await a.publish("r.rm.v4", 4, weights(1000));
        await transport.flush();
        const blobs = await transport.blobs(`coop_${CLUSTER}_blobs`);
        ok((await blobs.info("r.rm.v4")) !== null, "the durable copy is stored before publish returns");
        await retireWeights(transport, CLUSTER, "r.rm.v4");
        await eventually("segments deleted", () => Promise.resolve(files(hostA).length === 0 ? true : undefined));
        strictEqual(await blobs.info("r.rm.v4"), null);
        await rejects(b.load("r.rm.v4"), WeightPlaneError);
      } finally {
        a.close();
        b.close();
      }
    });
  },
});

Deno.test({
  name: "weights - a corrupted segment on this host is skipped: the version comes from the Object Store, checked",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withWorld(async ({ transport, hostA }) => {
      const plane = new WeightPlane({ cluster: CLUSTER, transport, dir: hostA });
      const [published] = await plane.publish("r.policy.v2", 2, weights());
      const segment = join(hostA, files(hostA).find((f) => f.endsWith(".st"))!);
      strictEqual(Deno.statSync(segment).mode! & 0o777, 0o444, "a published segment is sealed read-only");
      // Writing takes undoing the seal first (as root too: the write moves the file's times).
      Deno.chmodSync(segment, 0o644);
      using file = await Deno.open(segment, { read: true, write: true });
      await file.seek(100_000, Deno.SeekMode.Start);
      await file.write(new Uint8Array([1, 2, 3]));
      Deno.chmodSync(segment, 0o444);
      const loaded = await plane.load("r.policy.v2");
      strictEqual(loaded.via, "object-store");
      strictEqual(loaded.digest, published!.digest);
      ok(/shm: .*chunk 0 of 1 differs/.test(loaded.skipped.join("; ")), loaded.skipped.join("; "));
      deepStrictEqual(parseSafetensors(loaded.data).tensors.get("a")!.data, weights().get("a")!.data);
    });
  },
});

Deno.test({
  name: "weights - a full segment dir (byte cap; a real 1 MiB tmpfs as root) publishes through the Object Store only",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withWorld(async ({ transport, hostA, hostB }) => {
      const capped = new WeightPlane({ cluster: CLUSTER, transport, dir: hostA, maxBytes: 100_000 });
      const [v] = await capped.publish("r.policy.v3", 3, weights());
      strictEqual(v!.segment, false);
      deepStrictEqual(files(hostA), []);
      const loaded = await new WeightPlane({ cluster: CLUSTER, transport, dir: hostB }).load("r.policy.v3");
      strictEqual(loaded.via, "object-store");
      strictEqual(loaded.digest, v!.digest);
      // The real thing: ENOSPC from a tmpfs too small for the version.
      await Deno.mkdir(hostB, { recursive: true });
      const mount = await new Deno.Command("mount", {
        args: ["-t", "tmpfs", "-o", "size=1m", "tmpfs", hostB],
        stderr: "null",
      })
        .output().catch(() => ({ success: false }));
      if (!mount.success) {
        console.log("skipping the tmpfs half: cannot mount a tmpfs here (needs root)");
        return;
      }
      try {
        const [w] = await new WeightPlane({ cluster: CLUSTER, transport, dir: hostB }).publish(
          "r.policy.v4",
          4,
          weights(),
        );
        strictEqual(w!.segment, false);
        deepStrictEqual(files(hostB), [], "no partial segment left on the full tmpfs");
        strictEqual(
          (await new WeightPlane({ cluster: CLUSTER, transport, dir: hostA }).load("r.policy.v4")).via,
          "object-store",
        );
      } finally {
        await new Deno.Command("umount", { args: [hostB] }).output();
      }
    });
  },
});

Deno.test({
  name: "weights - a publisher killed mid-publish leaves no version and nothing the sweeper does not remove",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withWorld(async ({ url, transport, hostA }) => {
      await killWhenPartAppears(spawnPeer(["publish", url, hostA, "r.policy.v5", "256"]), hostA);
      const plane = new WeightPlane({ cluster: CLUSTER, transport, dir: hostA }); // sweeps on start
      deepStrictEqual(files(hostA), []);
      await rejects(
        plane.load("r.policy.v5"),
        (e: Error) => e instanceof WeightPlaneError && /No weight version/.test(e.message),
      );
    });
  },
});

Deno.test({
  name: "weights - a consumer killed mid-download: the next consumer on that host resumes it and gets the version",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withWorld(async ({ url, transport, hostA, hostB }) => {
      const { server, publisher } = servedPublisher(transport, hostA, { durable: "none" });
      try {
        const [v] = await publisher.publish("r.policy.v6", 6, weights(32_000_000));
        await killWhenPartAppears(spawnPeer(["load", url, hostB, "r.policy.v6"]), hostB);
        ok(files(hostB).some((f) => f.endsWith(".lock")), "the dead consumer's lock is still there");
        const loaded = await new WeightPlane({ cluster: CLUSTER, transport, dir: hostB }).load("r.policy.v6");
        strictEqual(loaded.via, "http");
        strictEqual(loaded.digest, v!.digest);
        deepStrictEqual(files(hostB).filter((f) => !f.endsWith(".st") && !f.endsWith(".json")), []);
      } finally {
        await server.stop();
      }
    });
  },
});

Deno.test({
  name: "weights - fan-out: a host that downloaded a version re-serves it, so the next host needs no publisher",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withWorld(async ({ transport, hostA, hostB }) => {
      const hostC = join(hostB, "..", "c");
      const { server, publisher } = servedPublisher(transport, hostA, { durable: "none" });
      const serverB = startWeightServer({ dir: hostB, token: `${TOKEN}-b` });
      try {
        const [v] = await publisher.publish("r.policy.v7", 7, weights());
        const b = new WeightPlane({
          cluster: CLUSTER,
          transport,
          dir: hostB,
          server: { url: serverB.url, token: `${TOKEN}-b` },
        });
        const fromA = await b.load("r.policy.v7");
        deepStrictEqual([fromA.via, fromA.source], ["http", server.url]);
        deepStrictEqual((await b.manifest("r.policy.v7"))!.sources.map((s) => s.url), [server.url, serverB.url]);
        // B loading again finds its own copy and does not list itself twice.
        strictEqual((await b.load("r.policy.v7")).via, "shm");
        strictEqual((await b.manifest("r.policy.v7"))!.sources.length, 2);
        // The publisher's server is gone: host C still downloads, from B, and gets the published bytes.
        await server.stop();
        const fromB = await new WeightPlane({ cluster: CLUSTER, transport, dir: hostC, durable: "none" }).load(
          "r.policy.v7",
        );
        deepStrictEqual([fromB.via, fromB.source, fromB.digest], ["http", serverB.url, v!.digest]);
        deepStrictEqual(fromB.data, fromA.data);
        // A released version is unmapped at once; the publisher (no durable copy) kept no mapping of its own, and a
        // stopped server gave its mappings back.
        const maps = () => Deno.readTextFileSync("/proc/self/maps");
        ok([hostB, hostC].every((dir) => maps().includes(dir)), "both loads map their host's segment");
        fromA.release();
        fromB.release();
        ok(![hostA, hostC].some((dir) => maps().includes(dir)), "no segment of A or C mapped after release and stop");
      } finally {
        publisher.close();
        await server.stop();
        await serverB.stop();
      }
    });
  },
});
