/**
 * `./coop bench runtime`: actor call latency and throughput next to raw NATS request/reply, tensor transfer through
 * an actor call next to the transport alone and an in-process copy, and spawn-to-ready time. Everything runs on a
 * local cluster of separate processes (nats-server, coordinator, one agent, actor hosts); the raw-NATS baseline
 * answers from its own process too, over the same kind of connection (nats.js on Deno).
 */
import { fileURLToPath } from "node:url";
import { Counter, Echo } from "../actors/demo_actors.ts";
import { decode, encode } from "../shared/codec.ts";
import { connectNats, type NatsTransport } from "../shared/nats_transport.ts";
import { encodeCall } from "../shared/protocol.ts";
import { type Tensor, tensor } from "../shared/tensor.ts";
import { ManagedProcess, startLocalCluster } from "../coordinator/local/mod.ts";
import { columns, percentile, printTable, writeBenchJson } from "./report.ts";

const SELF = fileURLToPath(import.meta.url);
const RAW_SUBJECT = "coop.bench.raw";
const MIB = 1024 * 1024;
const SIZES: Record<string, number> = { "1MiB": 1, "16MiB": 16, "256MiB": 256 };

/** The JSON `bench/out/runtime.json` holds (plus suite and machine). */
export interface RuntimeBenchResult {
  call_p50_us: number;
  call_p99_us: number;
  nats_p50_us: number;
  call_overhead_ratio: number;
  calls_per_s_seq: number;
  calls_per_s_64: number;
  /** Raw NATS request/reply with 64 in flight, the baseline for calls_per_s_64. */
  nats_calls_per_s_64: number;
  tensor_mb_s: Record<string, number>;
  nats_mb_s: Record<string, number>;
  spawn_ms: number;
}

async function latencies(n: number, fn: () => Promise<unknown>): Promise<{ us: number[]; perS: number }> {
  const us: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    us.push((performance.now() - t0) * 1000);
  }
  return { us, perS: n / ((performance.now() - start) / 1000) };
}

async function throughput(n: number, window: number, fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  let started = 0;
  const worker = async () => {
    while (started < n) {
      started++;
      await fn();
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return n / ((performance.now() - start) / 1000);
}

async function mbPerS(bytes: number, repeats: number, fn: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return bytes / MIB / (best / 1000);
}

/** Runs the suite; prints the table and writes bench/out/runtime.json. */
export async function runRuntimeBench(args: string[] = []): Promise<RuntimeBenchResult> {
  const quick = args.includes("--quick");
  const calls = quick ? 1000 : 5000;
  const local = await startLocalCluster({ agents: [{ nodeId: "bench", cpus: 4 }] });
  const raw = new ManagedProcess("raw-echo", Deno.execPath(), ["run", "-A", SELF, "--raw-echo", local.natsUrl], {});
  let client: NatsTransport | undefined;
  try {
    const cluster = local.client;
    client = await connectNats({ servers: local.natsUrl, name: "coop-bench" });
    const nc = client.raw;
    for (let i = 0;; i++) {
      try {
        await nc.request(RAW_SUBJECT, new Uint8Array(1), { timeout: 1000 });
        break;
      } catch (error) {
        if (i > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    const spawnMs: number[] = [];
    for (let i = 0; i < (quick ? 2 : 5); i++) {
      const t0 = performance.now();
      const c = await cluster.spawn(Counter, { resources: { cpu: 0.1 } }, i);
      spawnMs.push(performance.now() - t0);
      await cluster.kill(c);
    }

    const echo = await cluster.spawn(Echo, { resources: { cpu: 1 }, maxConcurrency: 64 });
    const frame = encodeCall("echo", [1]);
    const { nats, call } = await measureCalls(
      { calls, rounds: quick ? 2 : 5 },
      () => nc.request(RAW_SUBJECT, frame, { timeout: 5000 }),
      () => echo.echo(1),
    );
    const transfers = await measureTransfers(
      quick,
      (t) => echo.size(t),
      (bytes) => client!.request(`${RAW_SUBJECT}.large`, bytes, { timeoutMs: 60_000 }),
    );

    const result: RuntimeBenchResult = {
      call_p50_us: percentile(call.us, 50),
      call_p99_us: percentile(call.us, 99),
      nats_p50_us: percentile(nats.us, 50),
      call_overhead_ratio: percentile(call.us, 50) / percentile(nats.us, 50),
      calls_per_s_seq: call.perS,
      calls_per_s_64: call.c64,
      nats_calls_per_s_64: nats.c64,
      tensor_mb_s: transfers.tensorMbS,
      nats_mb_s: transfers.natsMbS,
      spawn_ms: percentile(spawnMs, 50),
    };
    printRuntimeReport(result, { nats, call, transfers, spawns: spawnMs.length });
    if (quick) {
      console.log("(--quick: smaller samples and no 256 MiB; bench/out/runtime.json left as it was)");
    } else {
      console.log(`wrote ${await writeBenchJson("runtime", result)}`);
    }
    return result;
  } finally {
    await client?.close().catch(() => {});
    await raw.stop(3000);
    await local.stop();
  }
}

/** One call path's sequential latency samples (µs) and best-round throughputs, sequential and 64 in flight. */
interface PathStats {
  us: number[];
  perS: number;
  c64: number;
}

/** Raw NATS request/reply next to an actor call: sequential latency and throughput, sequential and 64 in flight. */
async function measureCalls(
  size: { calls: number; rounds: number },
  rawCall: () => Promise<unknown>,
  actorCall: () => Promise<unknown>,
): Promise<{ nats: PathStats; call: PathStats }> {
  const { calls, rounds } = size;
  // Warm both paths (JIT, connections) before measuring.
  for (let i = 0; i < 500; i++) {
    await actorCall();
    await rawCall();
  }
  // The machine is shared: interleave the two paths in short rounds so both see the same background load, and
  // keep each path's best throughput round.
  const nats: PathStats = { us: [], perS: 0, c64: 0 };
  const call: PathStats = { us: [], perS: 0, c64: 0 };
  // Latency samples alternate call by call (round-level interleaving still let load bursts favour one path).
  for (let i = 0; i < calls; i++) {
    let t0 = performance.now();
    await rawCall();
    nats.us.push((performance.now() - t0) * 1000);
    t0 = performance.now();
    await actorCall();
    call.us.push((performance.now() - t0) * 1000);
  }
  for (let round = 0; round < rounds; round++) {
    const raw = await latencies(calls / rounds, rawCall);
    const actor = await latencies(calls / rounds, actorCall);
    nats.perS = Math.max(nats.perS, raw.perS);
    call.perS = Math.max(call.perS, actor.perS);
    call.c64 = Math.max(call.c64, await throughput(calls * 2, 64, actorCall));
    nats.c64 = Math.max(nats.c64, await throughput(calls * 2, 64, rawCall));
  }
  return { nats, call };
}

/** Per tensor size: MB/s through an actor call, through the transport alone and an in-process copy; decode µs. */
interface TransferStats {
  tensorMbS: Record<string, number>;
  natsMbS: Record<string, number>;
  copyMbS: Record<string, number>;
  decodeUs: Record<string, number>;
}

/** Tensor transfer at each of SIZES (no 256 MiB with `quick`), one way, best of repeats. */
async function measureTransfers(
  quick: boolean,
  actorSend: (t: Tensor) => Promise<unknown>,
  rawSend: (bytes: Uint8Array) => Promise<unknown>,
): Promise<TransferStats> {
  const stats: TransferStats = { tensorMbS: {}, natsMbS: {}, copyMbS: {}, decodeUs: {} };
  const { tensorMbS, natsMbS, copyMbS, decodeUs } = stats;
  for (const [key, mib] of Object.entries(SIZES)) {
    if (quick && mib > 16) continue;
    const t = tensor("float32", [mib * MIB / 4]);
    const bytes = t.bytes();
    // Warm both paths (and the chunked-transfer code) once at this size.
    await actorSend(t);
    await rawSend(bytes);
    const repeats = mib >= 256 ? 3 : mib >= 16 ? 4 : 10;
    // Alternate the two paths, one transfer at a time, so background load hits both alike; keep each one's best.
    tensorMbS[key] = 0;
    natsMbS[key] = 0;
    for (let i = 0; i < repeats; i++) {
      tensorMbS[key] = Math.max(tensorMbS[key]!, await mbPerS(bytes.byteLength, 1, () => actorSend(t)));
      natsMbS[key] = Math.max(natsMbS[key]!, await mbPerS(bytes.byteLength, 1, () => rawSend(bytes)));
    }
    copyMbS[key] = await mbPerS(bytes.byteLength, repeats, () => Promise.resolve(bytes.slice()));
    const encoded = encode(t);
    decodeUs[key] = Infinity;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      decode(encoded);
      decodeUs[key] = Math.min(decodeUs[key]!, (performance.now() - t0) * 1000);
    }
  }
  return stats;
}

/** Prints the calls table, the two ratios, the transfer table and spawn-to-ready time. */
function printRuntimeReport(
  result: RuntimeBenchResult,
  m: { nats: PathStats; call: PathStats; transfers: TransferStats; spawns: number },
): void {
  const { tensorMbS, natsMbS, copyMbS, decodeUs } = m.transfers;
  printTable(
    "Calls (one actor host process, one client process)",
    [
      { path: "actor call", p50: result.call_p50_us, p99: result.call_p99_us, seq: m.call.perS, c64: m.call.c64 },
      {
        path: "raw NATS request/reply",
        p50: result.nats_p50_us,
        p99: percentile(m.nats.us, 99),
        seq: m.nats.perS,
        c64: m.nats.c64,
      },
    ],
    columns(
      "path | p50: p50 (µs) | p99: p99 (µs) | seq: calls/s sequential (best round) | c64: calls/s 64 in flight (best round)",
    ),
  );
  console.log(`call overhead ratio (p50 actor / p50 NATS): ${result.call_overhead_ratio.toFixed(2)}`);
  console.log(`calls/s ratio, 64 in flight (actor / NATS): ${(m.call.c64 / m.nats.c64).toFixed(2)}`);
  printTable(
    "\nTensor transfer (float32, one way, best of repeats)",
    Object.keys(tensorMbS).map((key) => ({
      size: key,
      actor: tensorMbS[key],
      nats: natsMbS[key],
      ratio: tensorMbS[key]! / natsMbS[key]!,
      copy: copyMbS[key],
      decode: decodeUs[key],
    })),
    columns(`size | actor: actor call MB/s | nats: NATS request MB/s | ratio: actor/NATS
        copy: in-process copy MB/s | decode: decode (µs, view)`),
  );
  console.log(`\nspawn-to-ready: ${result.spawn_ms.toFixed(0)} ms (median of ${m.spawns})`);
}

/** The raw-NATS baseline's responder: replies to small requests with a fixed frame and to large ones with a length. */
async function rawEcho(url: string): Promise<void> {
  const transport = await connectNats({ servers: url, name: "coop-bench-raw" });
  const reply = encode([0, 1]);
  // Small messages through nats.js directly (what an actor call rides on); large through the chunking transport.
  transport.raw.subscribe(RAW_SUBJECT, {
    callback: (_error, msg) => {
      if (msg.headers === undefined) msg.respond(reply);
    },
  });
  const large = transport.subscribe(`${RAW_SUBJECT}.large`);
  void (async () => {
    for await (const message of large) await message.respond?.(encode([0, message.data.byteLength]));
  })();
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  await new Promise(() => {});
}

if (import.meta.main && Deno.args[0] === "--raw-echo") await rawEcho(Deno.args[1]!);
