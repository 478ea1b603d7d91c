/**
 * `./coop bench weights`: one weight version (2 GiB of float32 by default, then the same parameters in bf16) sent
 * to 1, 2 and 4 consumers, every path in one run so the ratios share the machine's load:
 * - same host: consumers (separate processes) load the learner's shared-memory segment through the data plane
 *   (control record from NATS KV, mapped, every chunk's SHA-256 checked, parsed), next to an in-process memcpy of
 *   the same bytes;
 * - Object Store: the same consumers stream the version out of JetStream (nats.js checks its digest) and drop it —
 *   that path's best case, since it never even allocates the copy;
 * - across hosts (root with `ip netns`): consumers in two network-namespace hosts download from the publisher's
 *   namespace (raw TCP ranges, 4 streams, chunk digests, one download per host shared by its consumers), next to raw
 *   TCP streams over the same veths (one stream per consumer, nothing checked), and the same streams written into
 *   the consumer host's shared memory (what keeping the bytes costs before any check).
 * GB/s counts bytes delivered to consumers (n × version size) over the wall time from "go" to the last one done.
 */
import { join } from "node:path";
import { parseSafetensors } from "../engine/io/mod.ts";
import { startLocalNats } from "../coordinator/local/mod.ts";
import { connectNats, type NatsTransport } from "../shared/nats_transport.ts";
import type { Tensor } from "../shared/tensor.ts";
import {
  defaultWeightsDir,
  digestBytes,
  type WeightDtype,
  type WeightManifest,
  WeightPlane,
} from "../actors/weights/mod.ts";
import { mapOrRead, readInto } from "../actors/weights/local.ts";
import { findSegment, removeSegments, segmentFile } from "../actors/weights/segment.ts";
import { type CrossHostResult, crossHostRounds, crossHostUnavailable } from "./weights_cross.ts";
import { memcpyGbS, Peer, rounds, syntheticWeights } from "./weights_rounds.ts";
import { columns, printTable, writeBenchJson } from "./report.ts";

const MIB = 1024 * 1024;
const CLUSTER = "bench";
const NAME = "model.v1";
const BUCKET = `coop_${CLUSTER}_blobs`;

/** Results for one precision, each keyed by consumer count. */
export interface WeightsVariantResult {
  bytes: number;
  publish_s: number;
  /** Publish plus the slowest same-host consumer's load, at each consumer count. */
  seconds_per_version: Record<string, number>;
  same_host_gb_s: Record<string, number>;
  /** memcpy by the same consumers: n processes each copying the segment into their own buffer, all at once. */
  memcpy_gb_s: Record<string, number>;
  /** The earlier baseline: n copies one after another in the driver's process. */
  memcpy_in_process_gb_s: Record<string, number>;
  /** How same-host consumers checked the bytes (`sealed`: by the publisher's seal; `hashed`: every byte). */
  same_host_checked?: string;
  object_store_gb_s: Record<string, number>;
  /** Bytes sent through the Object Store per consumer (the version, or its first --object-store-mib MiB). */
  object_store_bytes: number;
  /** Across hosts into a huge-page tmpfs on each consumer host (when it could be mounted; else plain /dev/shm). */
  cross_host_gb_s: Record<string, number>;
  /** The same download into plain /dev/shm (4 KiB pages), when `cross_host_gb_s` used huge pages. */
  cross_host_plain_shm_gb_s?: Record<string, number>;
  raw_tcp_gb_s: Record<string, number>;
  /**
   * Raw TCP written into the consumer host's directory the data plane receives into (the huge-page tmpfs when
   * mounted), nothing checked: the cost of keeping the bytes. One consumer per host (n <= 2).
   */
  raw_tcp_store_gb_s: Record<string, number>;
  /**
   * CPU (user + system) per delivered byte across hosts, by path and consumer count: the consumers' together and
   * the serving process's. All emulated hosts share this machine's cores, so this is where a path's time goes.
   */
  cross_host_cpu_ns_per_byte?: CrossHostResult["cpuNsPerByte"];
  /** SHA-256 (chunk list, 2 threads) over the version in-process: the verification ceiling. */
  sha256_gb_s: number;
}

/** `bench/out/weights.json`: fp32 at the top level, bf16 beside it. */
export interface WeightsBenchResult extends WeightsVariantResult {
  bf16: WeightsVariantResult;
  /** Reading a 256 MiB segment on this host in-process: Deno.readFile, readSync into a preallocated buffer, mmap. */
  read_methods_gb_s: Record<string, number>;
  cross_host_skipped?: string;
}

function parseArgs(
  args: string[],
): {
  sizeMib: number;
  repeats: number;
  counts: number[];
  cross: boolean;
  objectStoreMib: number;
  crossOnly: boolean;
  bf16: boolean;
} {
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i < 0 ? undefined : args[i + 1];
  };
  const sizeMib = Number(value("--size") ?? 2048);
  if (!Number.isFinite(sizeMib) || sizeMib < 16) throw new Error(`--size takes MiB of float32 (>= 16), got ${sizeMib}`);
  return {
    sizeMib,
    repeats: Number(value("--repeats") ?? 2),
    counts: (value("--consumers") ?? "1,2,4").split(",").map(Number),
    cross: !args.includes("--no-cross"),
    // The full version by default, so every row moves the same bytes; a cap (e.g. for a quick look) is recorded.
    objectStoreMib: Number(value("--object-store-mib") ?? sizeMib),
    // Quick looks at one path while tuning it (never written to bench/out).
    crossOnly: args.includes("--cross-only"),
    bf16: !args.includes("--no-bf16"),
  };
}

interface Ctx {
  opts: ReturnType<typeof parseArgs>;
  transport: NatsTransport;
  natsUrl: string;
  plane: WeightPlane;
  work: string;
  pubDir: string;
  token: string;
  crossSkipped?: string;
}

/** Publishes `tensors` in `dtype` and runs every path at every consumer count. */
async function runVariant(ctx: Ctx, dtype: WeightDtype, tensors: ReadonlyMap<string, Tensor>) {
  const { opts, plane } = ctx;
  const step = (what: string) => console.error(`[bench weights] ${dtype}: ${what}`);
  step("publishing");
  const t0 = performance.now();
  await plane.publish(NAME, 1, tensors, { dtypes: [dtype] });
  const publishS = (performance.now() - t0) / 1000;
  const manifest = (await plane.manifest(NAME, dtype))!;
  const segment = findSegment(ctx.pubDir, { cluster: CLUSTER, name: NAME, dtype }, manifest.digest)!;
  const data = mapOrRead(segment.path, manifest.bytes).data;
  const h0 = performance.now();
  await digestBytes(data);
  const out: WeightsVariantResult = {
    bytes: manifest.bytes,
    publish_s: publishS,
    seconds_per_version: {},
    same_host_gb_s: {},
    memcpy_gb_s: {},
    memcpy_in_process_gb_s: {},
    object_store_gb_s: {},
    object_store_bytes: Math.min(manifest.bytes, opts.objectStoreMib * MIB),
    cross_host_gb_s: {},
    raw_tcp_gb_s: {},
    raw_tcp_store_gb_s: {},
    sha256_gb_s: manifest.bytes / ((performance.now() - h0) / 1000) / 1e9,
  };
  if (!opts.crossOnly) {
    await sameHostAndStore(ctx, { dtype, out, data, manifest, publishS, segmentPath: segment.path });
  }
  if (ctx.crossSkipped === undefined) {
    step("across hosts");
    const cross = await crossHostRounds({
      counts: opts.counts,
      repeats: opts.repeats,
      work: ctx.work,
      pubDir: ctx.pubDir,
      segmentFile: segmentFile({ cluster: CLUSTER, name: NAME, dtype }, Deno.pid),
      manifest,
      token: ctx.token,
    });
    out.cross_host_gb_s = cross.gbS.plane;
    if (cross.hugeDirs) out.cross_host_plain_shm_gb_s = cross.gbS.planePlain;
    out.raw_tcp_gb_s = cross.gbS.tcp;
    out.raw_tcp_store_gb_s = cross.gbS.tcpStore;
    out.cross_host_cpu_ns_per_byte = cross.cpuNsPerByte;
  }
  return { result: out, digest: manifest.digest, data };
}

/** The same-host rounds (data plane and memcpy) and the Object Store rounds of one variant, into `out`. */
async function sameHostAndStore(
  ctx: Ctx,
  v: {
    dtype: WeightDtype;
    out: WeightsVariantResult;
    data: Uint8Array;
    manifest: WeightManifest;
    publishS: number;
    segmentPath: string;
  },
): Promise<void> {
  const { opts } = ctx;
  const { dtype, out, data, manifest, publishS } = v;
  const step = (what: string) => console.error(`[bench weights] ${dtype}: ${what}`);
  const common = { repeats: opts.repeats, bytes: manifest.bytes, work: ctx.work };
  for (const n of opts.counts) {
    step(`same host, ${n} consumers`);
    out.memcpy_in_process_gb_s[n] = memcpyGbS(data, n);
    out.memcpy_gb_s[n] = (await rounds(
      (go) =>
        Array.from(
          { length: n },
          () => new Peer(["memcpy", v.segmentPath, String(manifest.bytes), go, String(opts.repeats)]),
        ),
      common,
    )).gbS;
    const same = await rounds(
      (go) =>
        Array.from(
          { length: n },
          () => new Peer(["plane-load", ctx.natsUrl, ctx.pubDir, NAME, dtype, go, String(opts.repeats)]),
        ),
      common,
    );
    out.same_host_gb_s[n] = same.gbS;
    out.same_host_checked = [...new Set(same.last.map((r) => `${r.via}/${r.checked}`))].join(",");
    out.seconds_per_version[n] = publishS + same.seconds;
  }
  step("Object Store");
  const blobs = await ctx.transport.blobs(BUCKET);
  // A multi-GB put can miss a JetStream ack deadline on the loaded machine: try again rather than lose the run.
  for (let attempt = 1;; attempt++) {
    try {
      await blobs.put(manifest.blob, data.subarray(0, out.object_store_bytes));
      break;
    } catch (error) {
      if (attempt === 3) throw error;
      step(`Object Store put failed (${(error as Error).message}), again`);
    }
  }
  for (const n of opts.counts) {
    out.object_store_gb_s[n] = (await rounds((go) =>
      Array.from({ length: n }, () =>
        new Peer(["blob-load", ctx.natsUrl, BUCKET, manifest.blob, go, "1"])), {
      ...common,
      bytes: out.object_store_bytes,
      repeats: 1,
    })).gbS;
  }
  await blobs.delete(manifest.blob).catch(() => {}); // a late ack timeout here must not lose the run
}

function printVariant(title: string, r: WeightsVariantResult, counts: number[]): void {
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || !b ? undefined : a / b);
  printTable(
    `${title}: ${(r.bytes / 2 ** 30).toFixed(2)} GiB (Object Store: first ${(r.object_store_bytes / MIB).toFixed(0)} ` +
      `MiB), publish ${r.publish_s.toFixed(2)} s, in-process SHA-256 ${r.sha256_gb_s.toFixed(2)} GB/s`,
    counts.map((n) => ({
      n,
      same: r.same_host_gb_s[n],
      memcpy: r.memcpy_gb_s[n],
      sameRatio: ratio(r.same_host_gb_s[n], r.memcpy_gb_s[n]),
      spv: r.seconds_per_version[n],
      store: r.object_store_gb_s[n],
      cross: r.cross_host_gb_s[n],
      tcp: r.raw_tcp_gb_s[n],
      crossRatio: ratio(r.cross_host_gb_s[n], r.raw_tcp_gb_s[n]),
      plain: r.cross_host_plain_shm_gb_s?.[n],
      tcpStore: r.raw_tcp_store_gb_s[n],
      storeRatio: ratio(r.cross_host_gb_s[n], r.raw_tcp_store_gb_s[n]),
    })),
    columns(`n: consumers | same: same host GB/s | memcpy: memcpy GB/s | sameRatio: same/memcpy | spv: s/version
      store: Object Store GB/s | cross: cross host GB/s | tcp: raw TCP GB/s | crossRatio: cross/TCP
      plain: cross host into /dev/shm GB/s
      tcpStore: raw TCP stored GB/s | storeRatio: cross/(TCP stored)`),
  );
}

/** Where the CPU goes across hosts: ns per delivered byte, consumers and server, for each path. */
function printCpu(title: string, r: WeightsVariantResult, counts: number[]): void {
  const cpu = r.cross_host_cpu_ns_per_byte;
  if (cpu === undefined) return;
  const cell = (c: { consumers: number; server: number } | undefined) =>
    c === undefined ? undefined : `${c.consumers.toFixed(2)} + ${c.server.toFixed(2)}`;
  printTable(
    `${title}: CPU ns per delivered byte across hosts (consumers + server; all hosts share this machine's cores)`,
    counts.map((n) => ({
      n,
      plane: cell(cpu.plane[n]),
      plain: cell(cpu.planePlain[n]),
      tcp: cell(cpu.tcp[n]),
      tcpStore: cell(cpu.tcpStore[n]),
    })),
    columns(
      "n: consumers | plane: data plane | plain: data plane into /dev/shm | tcp: raw TCP | tcpStore: raw TCP stored",
    ),
  );
}

/** GB/s of the ways a consumer can get a file on /dev/shm into memory (each touches every page once). */
function readMethods(dir: string): Record<string, number> {
  const path = join(dir, "read-methods.bin");
  const bytes = 256 * MIB;
  Deno.writeFileSync(path, new Uint8Array(bytes).fill(7));
  const touch = (data: Uint8Array) => {
    let sum = 0;
    for (let i = 0; i < data.byteLength; i += 4096) sum += data[i]!;
    return sum;
  };
  const time = (read: () => Uint8Array) => {
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      touch(read());
      best = Math.min(best, performance.now() - t0);
    }
    return bytes / (best / 1000) / 1e9;
  };
  const out = new Uint8Array(bytes);
  const result = {
    readFile: time(() => Deno.readFileSync(path)),
    read_prealloc: time(() => readInto(path, out)),
    mmap: time(() => mapOrRead(path, bytes).data),
  };
  Deno.removeSync(path);
  return result;
}

/** Runs the suite; prints the tables and writes bench/out/weights.json (full size only). */
export async function runWeightsBench(args: string[] = []): Promise<WeightsBenchResult> {
  const opts = parseArgs(args);
  // nats.js can reject a publish ack it no longer waits for when the machine is overloaded; a benchmark run should
  // report that, not die of it.
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    console.error(`(ignored an unhandled rejection: ${(event.reason as Error)?.message ?? event.reason})`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  const crossSkipped = opts.cross ? await crossHostUnavailable() : "--no-cross given";
  if (crossSkipped !== undefined) console.log(`cross-host rounds skipped: ${crossSkipped}`);
  const nats = await startLocalNats({ maxPayload: 8 * MIB });
  const transport = await connectNats({ servers: nats.url, name: "coop-bench-weights" });
  const work = Deno.makeTempDirSync({ dir: join(defaultWeightsDir(), ".."), prefix: "coop-bench-weights-" });
  const pubDir = join(work, "pub");
  const plane = new WeightPlane({ cluster: CLUSTER, transport, dir: pubDir, durable: "none" });
  const ctx: Ctx = {
    opts,
    transport,
    natsUrl: nats.url,
    plane,
    work,
    pubDir,
    token: `bench-${crypto.randomUUID()}`,
    crossSkipped,
  };
  try {
    Deno.mkdirSync(pubDir, { recursive: true });
    const reads = readMethods(pubDir);
    const fp32 = await runVariant(ctx, "float32", syntheticWeights(opts.sizeMib * MIB));
    // The bf16 version is cast from the fp32 segment's views: no second float32 copy in memory.
    const bf16 = opts.bf16 ? await runVariant(ctx, "bfloat16", parseSafetensors(fp32.data).tensors) : undefined;
    removeSegments(pubDir, CLUSTER, NAME, [fp32.digest, ...(bf16 === undefined ? [] : [bf16.digest])]);
    const result: WeightsBenchResult = {
      ...fp32.result,
      bf16: bf16?.result as WeightsVariantResult,
      read_methods_gb_s: reads,
      ...(crossSkipped === undefined ? {} : { cross_host_skipped: crossSkipped }),
    };
    console.log(
      `machine: ${navigator.hardwareConcurrency} cores, load ${Deno.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
    );
    printVariant("fp32", fp32.result, opts.counts);
    if (bf16 !== undefined) printVariant("\nbf16", bf16.result, opts.counts);
    printCpu("\nfp32", fp32.result, opts.counts);
    if (bf16 !== undefined) printCpu("\nbf16", bf16.result, opts.counts);
    printTable(
      "\nReading a 256 MiB file on this host into a consumer (in-process, every page touched)",
      [reads],
      columns("readFile: Deno.readFile GB/s | read_prealloc: readSync into preallocated GB/s | mmap: mmap (FFI) GB/s"),
    );
    if (
      opts.sizeMib === 2048 && opts.counts.join() === "1,2,4" && bf16 !== undefined && !opts.crossOnly &&
      !args.includes("--no-write")
    ) {
      console.log(`wrote ${await writeBenchJson("weights", result)}`);
    } else {
      console.log("(not the full run: bench/out/weights.json left as it was)");
    }
    return result;
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    plane.close();
    await transport.close().catch(() => {});
    await nats.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
