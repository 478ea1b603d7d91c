/**
 * Prometheus `/metrics` of the coordinator, with prom-client (maintained, exact text-format escaping, histograms)
 * on a registry of its own. Cluster and run gauges are computed at scrape time from the same snapshot the API
 * serves, so a scrape never sees numbers the API would not; counters (API requests, weight publishes, steps)
 * accumulate from the run manager's event stream and the request middleware. Actor calls go straight from caller
 * to actor over NATS, never through the coordinator, so there is no cluster-wide call counter here: coordinator
 * requests are counted as `coop_api_requests_total`.
 */
import { ACTOR_STATES, bearerAuth } from "./http/mod.ts";
import { Hono, type MiddlewareHandler } from "hono";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { type ApiDeps } from "./api.ts";
import type { MetricPoint, RunStatus } from "./run/job.ts";
import type { RunEvent } from "./run/manager.ts";

/** What the exporter reads: the cluster, and runs with their newest metric point. */
export interface MetricsSource {
  deps: Pick<ApiDeps, "snapshot">;
  runs?: {
    list(): RunStatus[];
    metrics(id: string, since?: number): MetricPoint[];
    subscribeAll(listener: (id: string, event: RunEvent) => void): () => void;
  };
}

/** Per-run gauges from the run's newest point: metric name → (Prometheus name, help). */
const RUN_GAUGES: [string, string, string][] = [
  ["reward_mean", "coop_run_reward_mean", "Mean policy reward of the run's last step"],
  ["rm_reward_mean", "coop_run_rm_reward_mean", "Mean σ(RM) of the run's last step's samples"],
  ["train_accuracy", "coop_run_verifier_accuracy", "Verifier accuracy of the run's last step's samples"],
  ["eval_accuracy", "coop_run_eval_accuracy", "Held-out verifier accuracy at the run's last evaluation"],
  ["rm_sample_accuracy", "coop_run_rm_agreement", "RM agreement with the verifier on the last step's samples"],
  ["hacking_gap", "coop_run_hacking_gap", "σ(RM) minus verifier accuracy on the last step"],
  ["hacking_alarm", "coop_run_hacking_alarm", "1 while the reward-hacking alarm fires"],
  ["samples_per_s", "coop_run_samples_per_second", "Trained samples per second since the run started"],
  ["tokens_per_s", "coop_run_tokens_per_second", "Response tokens per second since the run started"],
];

const ACCOUNTING: [keyof RunStatus["accounting"], string][] = [
  ["generated", "generated"],
  ["scored", "scored"],
  ["trained", "trained"],
  ["droppedStale", "dropped_stale"],
  ["refused", "refused"],
  ["awaitingScore", "awaiting_score"],
  ["awaitingTraining", "awaiting_training"],
];

/** The exporter: a registry, its request-counting middleware and the `/metrics` router. */
export class MetricsExporter {
  readonly registry = new Registry();
  readonly #requests: Counter<"method" | "status">;
  readonly #unsubscribe: () => void;

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: "coop_api_requests_total",
      help: "Control API requests by method and status",
      labelNames: ["method", "status"],
      registers,
    });
    clusterGauges(source.deps, registers);
    if (source.runs !== undefined) runGauges(source.runs, registers);
    const publishBytes = new Counter({
      name: "coop_weight_publish_bytes_total",
      help: "Bytes of policy weights published to the Object Store",
      labelNames: ["run"],
      registers,
    });
    const publishSeconds = new Histogram({
      name: "coop_weight_publish_seconds",
      help: "Time to publish one policy version (weights to the Object Store, old versions dropped)",
      labelNames: ["run"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const steps = new Counter({ name: "coop_run_steps_total", help: "Steps finished", labelNames: ["run"], registers });
    this.#unsubscribe = source.runs?.subscribeAll((run, event) => {
      if (event.type !== "metric" || event.point.step === 0) return;
      steps.inc({ run });
      const { publish_bytes: bytes, publish_ms: ms } = event.point;
      if (Number.isFinite(bytes)) publishBytes.inc({ run }, bytes!);
      if (Number.isFinite(ms)) publishSeconds.observe({ run }, ms! / 1000);
    }) ?? (() => {});
  }

  /** Counts every request by method and status. */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      await next();
      this.#requests.inc({ method: c.req.method, status: String(c.res.status) });
    };
  }

  /** `GET /` in Prometheus text format (bearer auth when a token is given, as for /v1). */
  router(options: { token?: string } = {}): Hono {
    const app = new Hono();
    if (options.token !== undefined) app.use("*", bearerAuth({ token: options.token }));
    app.get("/", async (c) => {
      c.header("content-type", this.registry.contentType);
      return c.body(await this.registry.metrics());
    });
    return app;
  }

  /** Stops following run events. */
  close(): void {
    this.#unsubscribe();
  }
}

function clusterGauges(deps: Pick<ApiDeps, "snapshot">, registers: Registry[]): void {
  const nodes = new Gauge({ name: "coop_nodes", help: "Registered nodes by state", labelNames: ["state"], registers });
  const resources = new Gauge({
    name: "coop_node_resource",
    help: "Node capacity (total) and what is not in use (free): cpu in cores, gpu in devices, memory in MB",
    labelNames: ["node", "resource", "kind"],
    registers,
  });
  const actors = new Gauge({ name: "coop_actors", help: "Actors by state", labelNames: ["state"], registers });
  const restarts = new Gauge({ name: "coop_actor_restarts", help: "Restarts so far of all current actors", registers });
  const pending = new Gauge({ name: "coop_pending_placements", help: "Actors and groups waiting for room", registers });
  // One collect refreshes them all from one snapshot (prom-client calls collect() per metric; the first wins).
  let scrape: Promise<void> | undefined;
  const refresh = () =>
    scrape ??= (async () => {
      const snapshot = await deps.snapshot();
      nodes.reset();
      resources.reset();
      actors.reset();
      nodes.set({ state: "alive" }, snapshot.nodes.filter((n) => n.alive).length);
      nodes.set({ state: "dead" }, snapshot.nodes.filter((n) => !n.alive).length);
      for (const node of snapshot.nodes) {
        for (const kind of ["total", "free"] as const) {
          const r = node[kind];
          resources.set({ node: node.id, resource: "cpu", kind }, r.cpu);
          resources.set({ node: node.id, resource: "gpu", kind }, r.gpus.length);
          resources.set({ node: node.id, resource: "memory_mb", kind }, r.memoryMb);
        }
      }
      for (const state of ACTOR_STATES) actors.set({ state }, snapshot.actors.filter((a) => a.state === state).length);
      restarts.set(snapshot.actors.reduce((n, a) => n + a.restarts, 0));
      pending.set(snapshot.pending.length);
    })().finally(() => setTimeout(() => scrape = undefined, 0));
  for (const gauge of [nodes, resources, actors, restarts, pending]) {
    (gauge as unknown as { collect: () => Promise<void> }).collect = refresh;
  }
}

function runGauges(runs: NonNullable<MetricsSource["runs"]>, registers: Registry[]): void {
  const labelNames = ["run", "kind", "mode"] as const;
  const step = new Gauge({ name: "coop_run_step", help: "Steps finished", labelNames, registers });
  const state = new Gauge({
    name: "coop_run_state",
    help: "1 for the run's current state",
    labelNames: ["run", "state"],
    registers,
  });
  const staleness = new Gauge({
    name: "coop_run_staleness",
    help: "Policy versions between sampling and training: last step, highest so far, and the bound",
    labelNames: ["run", "kind"],
    registers,
  });
  const samples = new Gauge({
    name: "coop_run_samples",
    help: "Samples by ledger state",
    labelNames: ["run", "state"],
    registers,
  });
  const gauges = RUN_GAUGES.map(([key, name, help]) =>
    [key, new Gauge({ name, help, labelNames, registers })] as const
  );
  (step as unknown as { collect: () => void }).collect = () => {
    for (const g of [step, state, staleness, samples, ...gauges.map(([, g]) => g)]) g.reset();
    for (const run of runs.list()) {
      const labels = { run: run.id, kind: run.kind, mode: run.mode ?? "" };
      step.set(labels, run.step);
      state.set({ run: run.id, state: run.state }, 1);
      staleness.set({ run: run.id, kind: "last" }, run.staleness.last);
      staleness.set({ run: run.id, kind: "highest" }, run.staleness.highest);
      staleness.set({ run: run.id, kind: "max" }, run.staleness.max);
      for (const [key, label] of ACCOUNTING) samples.set({ run: run.id, state: label }, run.accounting[key] ?? 0);
      const last = latest(runs.metrics(run.id));
      for (const [key, gauge] of gauges) {
        const value = last[key];
        if (Number.isFinite(value)) gauge.set(labels, value!);
      }
    }
  };
}

/** The newest finite value of every metric among `points` (evaluations are not every step). */
function latest(points: MetricPoint[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const point of points) {
    for (const [key, value] of Object.entries(point)) if (Number.isFinite(value)) out[key] = value;
  }
  return out;
}
