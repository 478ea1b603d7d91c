/**
 * `coop demo` (runtime part): a local nats-server, a coordinator and two agents as separate processes; actors
 * spawned on both nodes (a STRICT_SPREAD placement group puts one bundle on each), called, a tensor sent through
 * an actor, the cluster status table printed, and everything shut down cleanly.
 */
import { type ClusterSnapshot } from "./http/mod.ts";
import { parseArgs } from "node:util";
import { Counter, Echo } from "../actors/mod.ts";
import { tensor } from "../shared/mod.ts";
import { freePort, startLocalCluster } from "./local/mod.ts";
import { formatClusterTable } from "./status_table.ts";

/** Runs the runtime demo; returns the exit code. */
export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { quick: { type: "boolean" }, verbose: { type: "boolean" } } });
  const apiPort = freePort();
  const started = performance.now();
  console.log("Starting nats-server, a coordinator and two agents (separate processes) ...");
  const local = await startLocalCluster({
    apiPort,
    echo: values.verbose,
    agents: [
      { nodeId: "node-a", cpus: 2, labels: { zone: "a" } },
      { nodeId: "node-b", cpus: 2, labels: { zone: "b" } },
    ],
  });
  try {
    const cluster = local.client;
    console.log(`Cluster up in ${((performance.now() - started) / 1000).toFixed(1)} s (NATS ${local.natsUrl})`);

    const group = await cluster.createPlacementGroup([{ cpu: 1 }, { cpu: 1 }], { strategy: "STRICT_SPREAD" });
    await group.ready();
    const counters = await Promise.all(
      [0, 1].map((i) =>
        cluster.spawn(Counter, { name: `counter-${i}`, placementGroup: group, bundleIndex: i, maxRestarts: 1 }, i * 100)
      ),
    );
    for (const counter of counters) {
      const where = await counter.where();
      const value = await counter.incr(5);
      console.log(`${counter.actorName} on ${where.nodeId} (pid ${where.pid}): incr(5) -> ${value}`);
    }
    const again = await cluster.getActor<Counter>("counter-1");
    console.log(`getActor("counter-1").get() -> ${await again.get()}`);

    const echo = await cluster.spawn(Echo, { name: "echo", resources: { cpu: 0.5 } });
    const sent = tensor("float32", [256, 1024], Float32Array.from({ length: 256 * 1024 }, (_, i) => i));
    const t0 = performance.now();
    const back = await echo.echo(sent) as typeof sent;
    const same = back.data.every((v, i) => v === sent.data[i]);
    console.log(
      `echo(1 MiB float32 tensor) -> shape [${back.shape}], intact: ${same}, ${(performance.now() - t0).toFixed(1)} ms`,
    );
    const pool = cluster.pool(counters);
    const results: number[] = [];
    for await (const value of pool.map((c, v: number) => c.incr(v), [1, 2, 3, 4, 5, 6])) results.push(value);
    console.log(`pool.map(incr, [1..6]) -> [${results.join(", ")}]`);

    const response = await fetch(`http://127.0.0.1:${apiPort}/v1/cluster`);
    const snapshot = await response.json() as ClusterSnapshot;
    console.log("\n" + formatClusterTable(snapshot) + "\n");

    console.log("Shutting down (actors, agents, coordinator, NATS) ...");
    await cluster.shutdown();
    const statuses = await Promise.all([local.coordinator, ...local.agents.values()].map((p) => withTimeout(p.status)));
    const clean = statuses.every((s) => s?.code === 0);
    console.log(clean ? "All processes exited cleanly." : "Some processes did not exit cleanly.");
    return clean && same ? 0 : 1;
  } finally {
    await local.stop();
  }
}

async function withTimeout<T>(promise: Promise<T>, ms = 20_000): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const result = await Promise.race([
    promise,
    new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms)),
  ]);
  clearTimeout(timer);
  return result;
}
