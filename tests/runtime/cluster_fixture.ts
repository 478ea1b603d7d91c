/**
 * A real cluster for runtime tests: nats-server from the shared harness, then a coordinator and agents as
 * separate processes with the test actor registry. Always stopped by `stop()`, including the server.
 */
import {
  type LocalAgentSpec,
  type LocalCluster,
  ManagedProcess,
  startLocalCluster,
} from "../../coordinator/local/mod.ts";
import { type NatsServer, startNats } from "../harness.ts";

/** Registry module with the test actors (absolute, so it does not depend on the cwd). */
export const TEST_REGISTRY = new URL("./fixtures/test_actors.ts", import.meta.url).pathname;

const TMP = Deno.env.get("TMPDIR") ?? "/tmp";

/** A test cluster plus its nats-server. */
export interface TestCluster extends LocalCluster {
  server: NatsServer;
}

/** Options for {@link startTestCluster}. */
export interface TestClusterOptions {
  agents: LocalAgentSpec[];
  maxPayload?: number;
  /** Fast failure detection for fault tests. */
  fast?: boolean;
  /** Cluster name (default "default"). */
  cluster?: string;
  /** Actor modules the agents may host (default: the runtime tests' `TEST_REGISTRY`). */
  registry?: string[];
}

/** Starts nats-server, a coordinator and the agents. */
export async function startTestCluster(options: TestClusterOptions): Promise<TestCluster> {
  const server = await startNats({ maxPayload: options.maxPayload });
  try {
    const local = await startLocalCluster({
      natsUrl: server.url,
      agents: options.agents,
      registry: options.registry ?? [TEST_REGISTRY],
      cluster: options.cluster,
      // The test actors keep files in the tests' temp dirs, outside any root: let their sandboxed hosts in there.
      env: { COOP_HOST_ALLOW_READ: TMP, COOP_HOST_ALLOW_WRITE: TMP },
      ...(options.fast ? { heartbeatMs: 200, nodeTimeoutMs: 1500 } : {}),
    });
    const stop = local.stop;
    return Object.assign(local, {
      server,
      async stop() {
        await stop();
        await server.stop();
      },
    });
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** Test options for tests that keep processes and subscriptions across steps. */
export const CLUSTER_TEST = { sanitizeOps: false, sanitizeResources: false, sanitizeExit: false };

/** Polls `probe` until it returns a value that is not undefined, or throws after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** Environment that makes `dir` every path root (data, models, runs) of a test cluster's API and learners. */
export function rootsIn(dir: string): Record<string, string> {
  return { COOP_ROOTS_DATA: dir, COOP_ROOTS_MODELS: dir, COOP_ROOTS_RUNS: dir };
}

const CLI = new URL("../../coordinator/cli.ts", import.meta.url).pathname;

/** Options for {@link startCoordinatorProcess}. */
export interface CoordinatorProcessOptions {
  natsUrl: string;
  cluster: string;
  /** API port; -1 (the default) starts none. */
  apiPort?: number;
  /** More `coop up` flags, e.g. `["--no-standby"]`. */
  args?: string[];
  env?: Record<string, string>;
  /** Name in the process's output prefix. Default "coordinator 2". */
  name?: string;
}

/** A second `coop up` for a cluster (a standby or a competitor for the lease), exiting with the test. */
export function startCoordinatorProcess(options: CoordinatorProcessOptions): ManagedProcess {
  return new ManagedProcess(options.name ?? "coordinator 2", Deno.execPath(), [
    "run",
    "-A",
    "--no-prompt",
    CLI,
    "up",
    "--nats",
    options.natsUrl,
    "--cluster",
    options.cluster,
    `--api-port=${options.apiPort ?? -1}`,
    ...(options.args ?? []),
  ], { env: { ...options.env, COOP_EXIT_WITH_PARENT: "1" } });
}
