/**
 * A small cluster client the deploy tests run where the cluster is reachable (inside a network namespace or a
 * container), one command per invocation, printing one JSON line:
 *
 *   client.ts spawn NAME [--label k=v]... [--max-restarts N]   -> {"name", "nodeId"}
 *   client.ts call NAME incr N                                  -> {"value"}
 *   client.ts where NAME                                        -> {"nodeId", "pid", "restarts"}
 *   client.ts api PATH [--port P]                               -> {"status", "body"}   (token from COOP_API_TOKEN)
 *
 * NATS settings come from `COOP_NATS_*` like every Coop process.
 */
import { parseArgs } from "node:util";
import { connectCluster } from "../../actors/connect.ts";
import { Counter } from "../../actors/demo_actors.ts";

const TIMEOUT_MS = 20_000;

async function withCluster<T>(fn: (cluster: Awaited<ReturnType<typeof connectCluster>>) => Promise<T>): Promise<T> {
  const cluster = await connectCluster({ name: "coop-deploy-test-client" });
  try {
    return await fn(cluster);
  } finally {
    await cluster.close().catch(() => {});
  }
}

async function main(argv: string[]): Promise<unknown> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      label: { type: "string", multiple: true },
      "max-restarts": { type: "string" },
      port: { type: "string" },
    },
  });
  const [command, name, ...rest] = positionals;
  switch (command) {
    case "spawn": {
      const labels = Object.fromEntries((values.label ?? []).map((item) => item.split("=", 2) as [string, string]));
      return await withCluster(async (cluster) => {
        const counter = await cluster.spawn(Counter, {
          name,
          resources: { cpu: 1 },
          labels,
          maxRestarts: Number(values["max-restarts"] ?? 0),
          readyTimeoutMs: 60_000,
        }, 0);
        const where = await counter.where();
        return { name, nodeId: where.nodeId };
      });
    }
    case "call":
      return await withCluster(async (cluster) => {
        const counter = await cluster.getActor<Counter>(name!, { timeoutMs: TIMEOUT_MS });
        if (rest[0] !== "incr") throw new Error(`Unsupported method "${rest[0]}": expected incr`);
        return { value: await counter.incr(Number(rest[1] ?? 1)) };
      });
    case "where":
      return await withCluster(async (cluster) => {
        const counter = await cluster.getActor<Counter>(name!, { timeoutMs: TIMEOUT_MS });
        return await counter.where();
      });
    case "api": {
      const token = Deno.env.get("COOP_API_TOKEN");
      const response = await fetch(`http://127.0.0.1:${values.port ?? "8470"}${name ?? "/healthz"}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch { /* not JSON */ }
      return { status: response.status, body };
    }
    default:
      throw new Error(`Unknown command "${command ?? ""}": expected spawn, call, where or api`);
  }
}

try {
  console.log(JSON.stringify(await main(Deno.args)));
  Deno.exit(0);
} catch (error) {
  const e = error as Error;
  console.log(JSON.stringify({ error: { name: e.name, message: e.message } }));
  Deno.exit(1);
}
