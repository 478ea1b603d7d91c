/**
 * `./coop bench scale`: the real coordinator (`coop up`, its own process) and JetStream KV under 1,000 simulated
 * nodes and 10,000 actor records. Simulated agents (`tests/chaos/sim_nodes.ts`, several NATS connections from this
 * process) register, heartbeat once a second and answer start orders without spawning processes, so what is
 * measured is the coordinator: registration, placement, per-record KV writes, the start order round trip, and a
 * successor's recovery from KV (SIGTERM, then a new `coop up` until it serves every node and the same usage).
 * Baseline in the same run: raw KV puts on the same server (one put alone, and the rate with the same concurrency).
 *
 *   ./coop bench scale [--nodes 1000] [--actors 10000] [--concurrency 32] [--quick]
 */
import { type ClusterSnapshot } from "../coordinator/http/mod.ts";
import { parseArgs } from "node:util";

import { freePort, type LocalCluster, startLocalCluster } from "../coordinator/local/mod.ts";
import { StateStore } from "../coordinator/state_store.ts";
import { assembleScheduler } from "../coordinator/scheduler/mod.ts";
import { encode } from "../shared/codec.ts";
import { connectNats } from "../shared/nats_transport.ts";
import { type ActorRecord, readReply } from "../shared/protocol.ts";
import { subjects } from "../shared/subjects.ts";
import type { KvStore, Transport } from "../shared/transport.ts";
import { startNats } from "../tests/harness.ts";
import { SimNodes } from "../tests/chaos/sim_nodes.ts";
import { percentile, printTable, writeBenchJson } from "./report.ts";

const CLUSTER = "scale";
const names = subjects(CLUSTER);
// Simulated agents share this many connections (a real agent has one each; a thousand here would only measure
// this process's socket handling).
const SIM_CONNECTIONS = 4;
const SEQUENTIAL_SPAWNS = 200;
const NODE_CPUS = 8;
const ACTOR_CPU = 0.5;

/** Results of one run (also bench/out/scale.json). */
export interface ScaleResult {
  nodes: number;
  actors: number;
  concurrency: number;
  register_per_s: number;
  spawn_seq_p50_ms: number;
  spawn_seq_p99_ms: number;
  spawn_p50_ms: number;
  spawn_p99_ms: number;
  placements_per_s: number;
  kv_put_p50_ms: number;
  kv_puts_per_s: number;
  kv_puts_per_placement: number;
  heartbeats_per_s: number;
  largest_sched_entry_bytes: number;
  whole_state_bytes: number;
  max_payload_bytes: number;
  recovery_s: number;
}

function elapsedMs(since: number): number {
  return performance.now() - since;
}

/** Runs `count` tasks with `concurrency` in flight; returns each task's latency (ms). */
async function timed(count: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const started = performance.now();
      await task(i);
      latencies.push(elapsedMs(started));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return latencies;
}

async function kvBaseline(kv: KvStore, concurrency: number, count: number): Promise<{ p50: number; rate: number }> {
  const value = new Uint8Array(300).fill(7); // about an actor record's size
  const alone = await timed(Math.min(500, count), 1, (i) => kv.put(`seq.${i}`, value));
  const started = performance.now();
  await timed(count, concurrency, (i) => kv.put(`par.${i}`, value));
  return { p50: percentile(alone, 50), rate: count / (elapsedMs(started) / 1000) };
}

function spawnRequest(): Uint8Array {
  return encode({
    op: "spawn",
    className: "Simulated",
    options: { resources: { cpu: ACTOR_CPU } },
    idempotent: [],
    args: encode([]),
  });
}

async function spawn(transport: Transport): Promise<ActorRecord> {
  const reply = await transport.request(names.coordinator, spawnRequest(), { timeoutMs: 120_000 });
  const record = readReply(reply, "spawn") as ActorRecord;
  if (record.nodeId === undefined) throw new Error(`actor ${record.id} was not placed: ${record.pendingReason}`);
  return record;
}

/** Every simulated node heartbeats once a second until stopped; returns the stop function and a beat counter. */
function heartbeats(sims: SimNodes[]): { stop: () => Promise<void>; count: () => number } {
  let beats = 0;
  let running = true;
  const loops = sims.map(async (sim) => {
    while (running) {
      const started = performance.now();
      beats += (await sim.heartbeat().catch(() => new Map())).size;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 - elapsedMs(started))));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
    count: () => beats,
  };
}

/** Simulated nodes spread over SIM_CONNECTIONS connections. */
async function simulate(nodeCount: number, connect: () => Promise<Transport>): Promise<SimNodes[]> {
  const sims: SimNodes[] = [];
  for (let c = 0; c < SIM_CONNECTIONS; c++) {
    const ids = Array.from({ length: nodeCount }, (_, i) => i).filter((i) => i % SIM_CONNECTIONS === c);
    const nodes = ids.map((i) => ({
      id: `sim-${String(i).padStart(4, "0")}`,
      cpus: NODE_CPUS,
      gpuIds: [],
      memoryMb: 16_384,
      custom: {},
      labels: { rack: `r${i % 20}` },
    }));
    sims.push(new SimNodes({ transport: await connect(), subjects: names, nodes }));
  }
  return sims;
}

type Usage = Array<{ id: string; total: number; free: number; actors: number }>;

/** Exact accounting after the spawns (throws when off); returns entry sizes for the report. */
async function checkState(sims: SimNodes[], usage: Usage, kv: KvStore, actorCount: number) {
  const running = sims.reduce((sum, sim) => sum + [...sim.running.values()].reduce((n, m) => n + m.size, 0), 0);
  const used = usage.reduce((sum, n) => sum + n.total - n.free, 0);
  if (running !== actorCount || Math.abs(used - actorCount * ACTOR_CPU) > 1e-6) {
    throw new Error(`accounting: ${running} running on simulated nodes, ${used} cpus used for ${actorCount}`);
  }
  const schedKeys = (await kv.keys("sched.actor.")).length;
  if (schedKeys !== actorCount) throw new Error(`${schedKeys} sched.actor keys for ${actorCount} actors`);
  let largest = 0;
  for (const key of (await kv.keys("sched.")).slice(0, 500)) {
    largest = Math.max(largest, (await kv.get(key))?.byteLength ?? 0);
  }
  // What the single whole-state key of before would weigh now (it was rewritten on every change).
  const wholeState = encode(assembleScheduler((await new StateStore(kv).load()).scheduler).json).byteLength;
  return { largest, wholeState };
}

/**
 * A successor coordinator on the same bucket: load every record, rebuild the scheduler, reconcile. SIGTERM releases
 * the lease, so the successor need not wait out its TTL; process start-up is included. Returns seconds.
 */
async function successor(local: LocalCluster, usage: () => Promise<Usage>, before: Usage): Promise<number> {
  await local.coordinator.stop();
  const started = performance.now();
  await local.restartCoordinator();
  let after = await usage().catch((): Usage => []);
  // The API comes up after the coordinator serves NATS: poll it.
  for (const deadline = performance.now() + 60_000; after.length !== before.length && performance.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = await usage().catch((): Usage => []);
  }
  const seconds = elapsedMs(started) / 1000;
  if (JSON.stringify(after) !== JSON.stringify(before)) {
    const differ = after.filter((n, i) => JSON.stringify(n) !== JSON.stringify(before[i]));
    throw new Error(`recovered usage differs: ${JSON.stringify(differ.slice(0, 3))}`);
  }
  return seconds;
}

/** The suite's flags: --nodes, --actors, --concurrency (default 32), --quick (50 nodes and 500 actors). */
function scaleArgs(args: string[]): { quick: boolean; nodeCount: number; actorCount: number; concurrency: number } {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: "string" },
      actors: { type: "string" },
      concurrency: { type: "string", default: "32" },
      quick: { type: "boolean", default: false },
    },
  });
  const quick = values.quick;
  const nodeCount = Number(values.nodes ?? (quick ? 50 : 1000));
  const actorCount = Number(values.actors ?? (quick ? 500 : 10_000));
  const concurrency = Number(values.concurrency);
  if (actorCount * ACTOR_CPU > nodeCount * NODE_CPUS) throw new Error("more actors than the nodes can hold");
  return { quick, nodeCount, actorCount, concurrency };
}

/**
 * Spawns `actorCount` actors while every simulated node heartbeats: up to SEQUENTIAL_SPAWNS one at a time, the rest
 * `concurrency` in flight; returns both latency samples (ms), the concurrent placement rate and the heartbeat rate.
 */
async function spawnAll(
  client: Transport,
  sims: SimNodes[],
  options: { actorCount: number; concurrency: number },
): Promise<{ sequential: number[]; concurrent: number[]; placementsPerS: number; heartbeatsPerS: number }> {
  const { actorCount, concurrency } = options;
  const beating = heartbeats(sims);
  const beatsBefore = beating.count();
  const beatsStarted = performance.now();
  const sequential = await timed(Math.min(SEQUENTIAL_SPAWNS, Math.floor(actorCount / 2)), 1, () => spawn(client));
  const started = performance.now();
  const rest = actorCount - sequential.length;
  const concurrent = await timed(rest, concurrency, () => spawn(client));
  const placementsPerS = rest / (elapsedMs(started) / 1000);
  const heartbeatsPerS = (beating.count() - beatsBefore) / (elapsedMs(beatsStarted) / 1000);
  await beating.stop();
  console.error(`spawned ${actorCount} actors (${placementsPerS.toFixed(0)}/s with ${concurrency} in flight)`);
  return { sequential, concurrent, placementsPerS, heartbeatsPerS };
}

/** Runs the benchmark; see the module comment. */
export async function runScaleBench(args: string[]): Promise<ScaleResult> {
  const { quick, nodeCount, actorCount, concurrency } = scaleArgs(args);
  const server = await startNats();
  const apiPort = freePort();
  const local = await startLocalCluster({ natsUrl: server.url, cluster: CLUSTER, apiPort, nodeTimeoutMs: 600_000 });
  const usage = async (): Promise<Usage> => {
    const snapshot = await (await fetch(`http://127.0.0.1:${apiPort}/v1/cluster`)).json() as ClusterSnapshot;
    return snapshot.nodes.map((n) => ({ id: n.id, total: n.total.cpu, free: n.free.cpu, actors: n.actors.length }))
      .sort((a, b) => a.id < b.id ? -1 : 1);
  };
  const connections: Transport[] = [];
  const connect = async () => {
    const transport = await connectNats({ servers: server.url });
    connections.push(transport);
    return transport;
  };
  try {
    const client = await connect();
    const kv = await client.kv(names.stateBucket);
    const baseline = await kvBaseline(await client.kv("scale_baseline"), concurrency, quick ? 1000 : 5000);
    const sims = await simulate(nodeCount, connect);
    const started = performance.now();
    await Promise.all(sims.map((sim) => sim.register()));
    const registerPerS = nodeCount / (elapsedMs(started) / 1000);
    console.error(`registered ${nodeCount} nodes (${registerPerS.toFixed(0)}/s)`);

    const { sequential, concurrent, placementsPerS, heartbeatsPerS } = await spawnAll(client, sims, {
      actorCount,
      concurrency,
    });

    const before = await usage();
    const { largest, wholeState } = await checkState(sims, before, kv, actorCount);

    const recoveryS = await successor(local, usage, before);

    const result: ScaleResult = {
      nodes: nodeCount,
      actors: actorCount,
      concurrency,
      register_per_s: registerPerS,
      spawn_seq_p50_ms: percentile(sequential, 50),
      spawn_seq_p99_ms: percentile(sequential, 99),
      spawn_p50_ms: percentile(concurrent, 50),
      spawn_p99_ms: percentile(concurrent, 99),
      placements_per_s: placementsPerS,
      kv_put_p50_ms: baseline.p50,
      kv_puts_per_s: baseline.rate,
      kv_puts_per_placement: baseline.rate / placementsPerS,
      heartbeats_per_s: heartbeatsPerS,
      largest_sched_entry_bytes: largest,
      whole_state_bytes: wholeState,
      max_payload_bytes: client.maxPayload,
      recovery_s: recoveryS,
    };
    report(result);
    if (quick) console.log("(--quick: bench/out/scale.json left as it was)");
    else console.log(`wrote ${await writeBenchJson("scale", result)}`);
    for (const sim of sims) sim.close();
    return result;
  } finally {
    for (const transport of connections) await transport.close().catch(() => {});
    await local.stop();
    await server.stop();
  }
}

function report(r: ScaleResult): void {
  printTable(`\nScale: ${r.nodes} simulated nodes, ${r.actors} actors, real coordinator + JetStream KV`, [
    { what: "spawn, one at a time", p50: r.spawn_seq_p50_ms, p99: r.spawn_seq_p99_ms, rate: 1000 / r.spawn_seq_p50_ms },
    { what: `spawn, ${r.concurrency} in flight`, p50: r.spawn_p50_ms, p99: r.spawn_p99_ms, rate: r.placements_per_s },
    { what: "baseline: raw KV put", p50: r.kv_put_p50_ms, p99: undefined, rate: r.kv_puts_per_s },
  ], [
    "what",
    { key: "p50", header: "p50 (ms)" },
    { key: "p99", header: "p99 (ms)", format: (v) => v === undefined ? "" : (v as number).toFixed(2) },
    { key: "rate", header: "per s" },
  ]);
  console.log(
    `placement rate ${r.placements_per_s.toFixed(0)}/s = 1/${r.kv_puts_per_placement.toFixed(1)} of the raw KV put ` +
      `rate; ${r.register_per_s.toFixed(0)} registrations/s; ${r.heartbeats_per_s.toFixed(0)} heartbeats/s ` +
      `during spawns; largest scheduler entry ${r.largest_sched_entry_bytes} B (a whole-state value would be ` +
      `${r.whole_state_bytes} B, max_payload ${r.max_payload_bytes} B); successor recovery ${
        r.recovery_s.toFixed(1)
      } s`,
  );
}
