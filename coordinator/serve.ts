/**
 * Process entry points behind `coop up` and `coop agent`: connect to NATS (with the `COOP_NATS_*` settings, any
 * server URL given on the command line taking precedence), run a coordinator with its control API or a node
 * agent, report connection state, and shut down cleanly on SIGTERM/SIGINT.
 */
import { apiBindHost, apiTokenFromEnv } from "./http/mod.ts";
import { type AgentOptions, startAgent } from "../actors/mod.ts";
import { Cluster } from "../actors/mod.ts";
import { manifestBucket } from "../actors/weights/mod.ts";
import { createLogger, type Logger } from "../shared/mod.ts";
import { natsOptionsFromEnv } from "../shared/mod.ts";
import { connectNats, type NatsTransport } from "../shared/mod.ts";
import { subjects } from "../shared/mod.ts";
import type { KvStore, Transport } from "../shared/mod.ts";
import { createApp } from "./api.ts";

import type { RunManager } from "./run/manager.ts";
import { Coordinator } from "./coordinator.ts";
import { StateStore } from "./state_store.ts";
import { acquireLease, type Lease } from "./lease.ts";
import { openLogStream } from "./log_store.ts";
import { apiDeps } from "./views.ts";

/** Options for {@link runCoordinator}. */
export interface RunCoordinatorOptions {
  nats?: string;
  cluster?: string;
  /** Control API port; 0 picks a free one; -1 disables the API. Default 8470. */
  apiPort?: number;
  apiHost?: string;
  nodeTimeoutMs?: number;
  /** Wait as a standby while another coordinator leads the cluster (default), or throw `LeaseHeldError`. */
  standby?: boolean;
  /** Leadership lease renewal interval (ms); it expires after 3 × this. Default 1000. */
  leaseRenewMs?: number;
  /** Called once the coordinator serves (with the API's port). */
  onReady?: (info: { apiPort: number | null }) => void;
}

/** Options for {@link runAgentProcess}: the agent's own, plus the NATS URL its actor hosts inherit. */
export interface RunAgentOptions extends Omit<AgentOptions, "hostEnv"> {
  nats?: string;
}

/** Connects with env settings; `url` (from a flag) overrides COOP_NATS_URL. */
export async function connectFromEnv(url: string | undefined, name: string): Promise<NatsTransport> {
  const env = Deno.env.toObject();
  if (url !== undefined) env.COOP_NATS_URL = url;
  return await connectNats({ ...natsOptionsFromEnv(env), name, waitOnFirstConnect: true });
}

function onSignals(fn: () => void): void {
  for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, fn);
  if (Deno.env.get("COOP_EXIT_WITH_PARENT") === "1") {
    // Started by a local cluster (demo, tests, bench): stdin is a pipe from the parent, EOF means it is gone.
    void (async () => {
      for await (const _ of Deno.stdin.readable) { /* nothing is ever written */ }
      fn();
    })().catch(fn);
  }
}

function reportConnection(transport: Transport, log: Logger): void {
  void (async () => {
    for await (const event of transport.status()) {
      if (event.type === "error") log.warn(`NATS error: ${event.error.message}`);
      else log.info(`NATS ${event.type}${"server" in event && event.server ? ` (${event.server})` : ""}`);
    }
  })().catch(() => {});
}

/** Runs a coordinator until SIGTERM/SIGINT or a cluster shutdown; returns the exit code. */
export async function runCoordinator(options: RunCoordinatorOptions = {}): Promise<number> {
  const transport = await connectFromEnv(options.nats, "coop-coordinator");
  const log = createLogger({ component: "coordinator" });
  reportConnection(transport, log);
  const names = subjects(options.cluster ?? "default");
  const state = await transport.kv(names.stateBucket);
  // Signals may come while standing by (no coordinator yet) or while leading.
  const running: { coordinator?: Coordinator } = {};
  const standingBy = new AbortController();
  onSignals(() => {
    standingBy.abort();
    void running.coordinator?.stop();
  });
  let lease: Lease;
  try {
    lease = await takeLease(state, names.cluster, options, { signal: standingBy.signal, log });
  } catch (error) {
    await transport.close().catch(() => {});
    if (standingBy.signal.aborted) return 0;
    throw error;
  }
  const store = new StateStore(state, { recreate: () => transport.kv(names.stateBucket) });
  // The weight buckets exist before any actor opens them: actor hosts with per-actor credentials may read them but
  // not create them (actors/actor_creds.ts), and a reader may come before the first learner publishes.
  await transport.blobs(names.blobBucket);
  await transport.kv(manifestBucket(names.cluster));
  const coordinator = running.coordinator = new Coordinator(transport, store, {
    cluster: names.cluster,
    nodeTimeoutMs: options.nodeTimeoutMs,
    epoch: lease.epoch,
    raiseEpoch: (above) => lease.raiseEpoch(above),
    logStore: await openLogStream(transport, names),
  });
  let lostLease: string | undefined;
  void lease.lost.then((reason) => {
    lostLease = reason;
    log.warn(`lost the lease of cluster "${names.cluster}" (${reason}), stopping`);
    void coordinator.stop();
  });
  await coordinator.start();
  const api = (options.apiPort ?? 8470) >= 0 ? await serveApi(transport, coordinator, options, log) : null;
  const apiPort = api?.port ?? null;
  log.info(`cluster "${names.cluster}" ready${apiPort === null ? "" : `, API on port ${apiPort}`}`);
  options.onReady?.({ apiPort });
  await coordinator.exited;
  if (lostLease === undefined) await lease.release();
  // Runs cannot finish without the coordinator: ask them to stop, do not wait for them.
  void api?.runs.close().catch(() => {});
  await api?.server.shutdown();
  await transport.close().catch(() => {});
  log.info("stopped");
  return lostLease === undefined ? 0 : 1;
}

/** One coordinator per cluster: take the lease before reading state, so a standby never acts on stale state. */
function takeLease(
  state: KvStore,
  cluster: string,
  options: RunCoordinatorOptions,
  { signal, log }: { signal: AbortSignal; log: Logger },
): Promise<Lease> {
  return acquireLease(state, cluster, {
    standby: options.standby,
    renewMs: options.leaseRenewMs,
    signal,
    onStandby: (holder) =>
      log.info(
        `standing by, cluster "${cluster}" is led by pid ${holder.pid} on host "${holder.host}"`,
      ),
  });
}

/** The control API with runs, events, metrics and the dashboard, serving on `options.apiPort`. */
async function serveApi(
  transport: Transport,
  coordinator: Coordinator,
  options: RunCoordinatorOptions,
  log: Logger,
): Promise<{ server: Deno.HttpServer; runs: RunManager; port: number }> {
  const names = subjects(options.cluster ?? "default");
  const cluster = names.cluster;
  // Runs (`/v1/runs`) are driven from this process; loaded lazily so `coop up` without runs stays light.
  const { RunManager, runsRouter } = await import("./run/mod.ts");
  const { RunStore } = await import("./run/store.ts");
  const runs = new RunManager(new Cluster(transport, { cluster }), {
    store: await RunStore.open(transport, cluster, names.stateBucket),
  });
  // Runs the previous leader was driving: listed with their history, marked interrupted, their actors reclaimed.
  for (const run of await runs.recover()) {
    log.warn(`run "${run.id}" was interrupted at step ${run.step}; ${run.resumeCommand}`);
  }
  const { dashboardRouter } = await import("./dashboard/router.ts");
  const { eventsRouter } = await import("./dashboard/events.ts");
  const { MetricsExporter } = await import("./metrics.ts");
  const deps = apiDeps(coordinator, { natsUrl: options.nats });
  const token = apiTokenFromEnv();
  const exporter = new MetricsExporter({ deps, runs });
  const app = createApp(deps, {
    token,
    middleware: [exporter.middleware()],
    routers: {
      "/v1/runs": runsRouter(runs),
      "/v1/events": eventsRouter(deps, runs),
      "/metrics": exporter.router({ token }),
      "/": dashboardRouter(),
    },
  });
  const server = Deno.serve({
    port: options.apiPort ?? 8470,
    hostname: apiBindHost(options.apiHost, token),
    onListen: () => {},
  }, app.fetch);
  return { server, runs, port: (server.addr as Deno.NetAddr).port };
}

/** Runs a node agent until SIGTERM/SIGINT or the coordinator tells it to exit; returns the exit code. */
export async function runAgentProcess(options: RunAgentOptions = {}): Promise<number> {
  const transport = await connectFromEnv(options.nats, `coop-agent-${options.nodeId ?? ""}`);
  const hostEnv: Record<string, string> = {};
  if (options.nats !== undefined) hostEnv.COOP_NATS_URL = options.nats;
  // Per-role credentials (`coop creds`): actor hosts connect as host-<node>, not with the agent's own seed.
  const hostSeed = Deno.env.get("COOP_HOST_NATS_NKEY_SEED_FILE");
  if (hostSeed !== undefined) hostEnv.COOP_NATS_NKEY_SEED_FILE = hostSeed;
  const agent = startAgent(transport, { ...options, hostEnv });
  const log = createLogger({ component: "agent" });
  reportConnection(transport, log);
  log.info(`node "${agent.nodeId}" started`);
  onSignals(() => void agent.stop());
  await agent.exited;
  await transport.close().catch(() => {});
  log.info(`node "${agent.nodeId}" stopped`);
  return 0;
}
