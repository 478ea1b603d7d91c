import { type ActorView, type ClusterSnapshot, type NodeView } from "./http/mod.ts";
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { createApp } from "./api.ts";
import { MetricsExporter } from "./metrics.ts";
import { emptyAccounting, type MetricPoint, type RunStatus } from "./run/job.ts";
import type { RunEvent } from "./run/manager.ts";

const node = (id: string, alive: boolean, freeCpu: number): NodeView => ({
  id,
  alive,
  labels: {},
  total: { cpu: 8, memoryMb: 1024, gpus: [0, 1], resources: {} },
  free: { cpu: freeCpu, memoryMb: 512, gpus: [1], resources: {} },
  actors: [],
});
const actor = (id: string, state: ActorView["state"], restarts: number): ActorView => ({
  id,
  className: "C",
  nodeId: "n1",
  state,
  restarts,
});
const snapshot: ClusterSnapshot = {
  coordinator: { id: "c", startedAt: new Date(0).toISOString() },
  nodes: [node("n1", true, 6.5), node("n2", false, 8)],
  actors: [actor("a1", "alive", 1), actor("a2", "alive", 0), actor("a3", "pending", 0), actor("a4", "dead", 2)],
  pending: [{ kind: "actor", id: "a3", reason: "no room" } as unknown as ClusterSnapshot["pending"][number]],
  placementGroups: [],
};
const run: RunStatus = {
  id: "r1",
  name: "r1",
  kind: "rl",
  mode: "cooper",
  state: "running",
  step: 2,
  steps: 10,
  policyVersion: 2,
  rmVersion: 1,
  staleness: { max: 1, last: 1, highest: 1 },
  accounting: { ...emptyAccounting(), generated: 40, scored: 36, trained: 30, droppedStale: 2, awaitingScore: 4 },
  startedAt: new Date(0).toISOString(),
  notes: [],
};
const points: MetricPoint[] = [
  { step: 1, time: 1, reward_mean: 0.25, eval_accuracy: 0.5, publish_bytes: 1000, publish_ms: 20 },
  { step: 2, time: 2, reward_mean: 0.75, kl: Number.NaN, publish_bytes: 1000, publish_ms: 40 },
];

type Family = {
  name: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
};

Deno.test("metrics - /metrics parses as Prometheus text and carries cluster and run numbers", async () => {
  const listeners = new Set<(id: string, event: RunEvent) => void>();
  const exporter = new MetricsExporter({
    deps: { snapshot: () => snapshot },
    runs: {
      list: () => [run],
      metrics: () => points,
      subscribeAll: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
  });
  for (const point of points) for (const l of listeners) l("r1", { type: "metric", point });
  const app = createApp({ snapshot: () => snapshot, actor: () => undefined, actorLogs: () => [] }, {
    token: "t",
    middleware: [exporter.middleware()],
    routers: { "/metrics": exporter.router({ token: "t" }) },
  });
  strictEqual((await app.request("/metrics")).status, 401);
  await app.request("/v1/cluster", { headers: { authorization: "Bearer t" } });
  const response = await app.request("/metrics", { headers: { authorization: "Bearer t" } });
  strictEqual(response.status, 200);
  ok(response.headers.get("content-type")!.startsWith("text/plain"));
  const families = parsePrometheusTextFormat(await response.text()) as Family[];
  const family = (name: string) => families.find((f) => f.name === name)!;
  const value = (name: string, labels: Record<string, string> = {}) =>
    Number(family(name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value);

  strictEqual(value("coop_nodes", { state: "alive" }), 1);
  strictEqual(value("coop_nodes", { state: "dead" }), 1);
  strictEqual(value("coop_node_resource", { node: "n1", resource: "cpu", kind: "free" }), 6.5);
  strictEqual(value("coop_node_resource", { node: "n1", resource: "gpu", kind: "total" }), 2);
  strictEqual(value("coop_actors", { state: "alive" }), 2);
  strictEqual(value("coop_actors", { state: "restarting" }), 0);
  strictEqual(value("coop_actor_restarts"), 3);
  strictEqual(value("coop_pending_placements"), 1);
  strictEqual(value("coop_run_step", { run: "r1", mode: "cooper" }), 2);
  strictEqual(value("coop_run_state", { run: "r1", state: "running" }), 1);
  strictEqual(value("coop_run_reward_mean", { run: "r1" }), 0.75);
  // Evaluated at step 1 only: the newest value is kept.
  strictEqual(value("coop_run_eval_accuracy", { run: "r1" }), 0.5);
  strictEqual(value("coop_run_staleness", { run: "r1", kind: "max" }), 1);
  strictEqual(value("coop_run_samples", { run: "r1", state: "dropped_stale" }), 2);
  strictEqual(value("coop_run_samples", { run: "r1", state: "awaiting_score" }), 4);
  strictEqual(value("coop_run_steps_total", { run: "r1" }), 2);
  strictEqual(value("coop_weight_publish_bytes_total", { run: "r1" }), 2000);
  const publish = family("coop_weight_publish_seconds").metrics[0]!;
  strictEqual(family("coop_weight_publish_seconds").type, "HISTOGRAM");
  // (This parser keeps a labelled histogram's buckets only; +Inf is the count.)
  deepStrictEqual([publish.buckets!["0.025"], publish.buckets!["0.05"], publish.buckets!["+Inf"]], ["1", "2", "2"]);
  strictEqual(value("coop_api_requests_total", { method: "GET", status: "200" }), 1);
  strictEqual(value("coop_api_requests_total", { method: "GET", status: "401" }), 1);
  ok(!families.some((f) => f.metrics.some((m) => m.value === "NaN")), "no NaN samples");
  exporter.close();
});
