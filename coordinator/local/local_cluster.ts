/**
 * A whole cluster on this machine as separate processes: optionally a nats-server, one coordinator and N agents
 * (`coop up` / `coop agent` subprocesses). Used by `coop demo`, the benchmark and the runtime tests. Every process
 * is stopped (SIGTERM, then SIGKILL) and every temp dir removed by `stop()`.
 */
import { fileURLToPath } from "node:url";
import { Cluster } from "../../actors/mod.ts";
import { CoopError } from "../../shared/mod.ts";
import { connectNats } from "../../shared/mod.ts";
import { natsOptionsFromEnv } from "../../shared/mod.ts";
import { terminate } from "../../shared/mod.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

/** A child process with its captured output. */
export class ManagedProcess {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly output: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;

  constructor(
    name: string,
    command: string,
    args: string[],
    options: { env?: Record<string, string>; cwd?: string; echo?: boolean },
  ) {
    this.name = name;
    // stdin stays an open pipe that is never written: when this process dies, the child reads EOF and stops
    // (see COOP_EXIT_WITH_PARENT in serve.ts), so a killed test or demo leaves no coordinator or agent behind.
    this.child = new Deno.Command(command, {
      args,
      env: options.env,
      cwd: options.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      let rest = "";
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + text).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          this.output.push(line);
          if (this.output.length > 2000) this.output.shift();
          if (options.echo) console.error(`[${name}] ${line}`);
        }
      }
    };
    const pumped = Promise.all([pump(this.child.stdout), pump(this.child.stderr)]).catch(() => {});
    this.status = this.child.status.then(async (status) => {
      await pumped;
      return status;
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Sends a signal (ignored when the process is gone). */
  signal(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch { /* already exited */ }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit status. */
  async stop(graceMs = 10_000): Promise<Deno.CommandStatus> {
    await terminate(this.child, graceMs, { exited: this.status });
    return await this.status;
  }
}

/** A nats-server started for a local cluster. */
export interface LocalNats {
  url: string;
  port: number;
  storeDir: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts nats-server with JetStream on `port` (default: a free one) in a temp dir. */
export async function startLocalNats(options: { port?: number; maxPayload?: number } = {}): Promise<LocalNats> {
  const port = options.port ?? freePort();
  const dir = await Deno.makeTempDir({ prefix: "coop-nats-" });
  const config = [
    `listen: "127.0.0.1:${port}"`,
    `max_payload: ${options.maxPayload ?? 8 * 1024 * 1024}`,
    `jetstream { store_dir: "${dir}/js" }`,
  ].join("\n");
  await Deno.writeTextFile(`${dir}/nats.conf`, config);
  // nats-server has no "exit with parent" option: a shell keeps it on a leash that ends at stdin EOF (our death),
  // and forwards SIGTERM for a normal stop.
  // (Background jobs get /dev/null as stdin unless redirected explicitly, hence fd 3.)
  const leash = "exec 3<&0; nats-server -c \"$1\" </dev/null & pid=$!; trap 'kill $pid 2>/dev/null' TERM INT; " +
    "(while read -r _; do :; done <&3; kill $pid 2>/dev/null) & watcher=$!; " +
    "wait $pid; wait $pid 2>/dev/null; kill $watcher 2>/dev/null; exit 0";
  const process = new ManagedProcess("nats", "sh", ["-c", leash, "sh", `${dir}/nats.conf`], {});
  await waitFor(`nats-server on port ${port}`, 10_000, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  }, process);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir: `${dir}/js`,
    process,
    async stop() {
      await process.stop(3000);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  process?: ManagedProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  process?.status.then(() => exited = true);
  while (Date.now() < deadline) {
    if (exited) throw new CoopError(`${what}: process exited early:\n${process!.output.slice(-20).join("\n")}`);
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new CoopError(`Timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** One agent of a local cluster. */
export interface LocalAgentSpec {
  nodeId: string;
  cpus?: number;
  gpus?: number[];
  memoryMb?: number;
  resources?: Record<string, number>;
  labels?: Record<string, string>;
}

/** Options for {@link startLocalCluster}. */
export interface LocalClusterOptions {
  /** Use this server instead of starting one. */
  natsUrl?: string;
  maxPayload?: number;
  cluster?: string;
  agents?: LocalAgentSpec[];
  /** Extra registry modules for the agents (paths relative to the cwd, or URLs). */
  registry?: string[];
  heartbeatMs?: number;
  nodeTimeoutMs?: number;
  /** Control API port for the coordinator (-1 = none). Default -1. */
  apiPort?: number;
  /** Print every process's output, prefixed (default: env COOP_VERBOSE=1). */
  echo?: boolean;
  /** Extra environment for every process of the cluster (e.g. `COOP_ROOTS_*`: where run configs may point). */
  env?: Record<string, string>;
}

/** A running local cluster and a client connected to it. */
export interface LocalCluster {
  natsUrl: string;
  nats?: LocalNats;
  coordinator: ManagedProcess;
  agents: Map<string, ManagedProcess>;
  client: Cluster;
  /** Starts another agent process and waits until it registered. */
  addAgent(spec: LocalAgentSpec): Promise<ManagedProcess>;
  /** Starts a (new) coordinator process, e.g. after killing the old one. */
  restartCoordinator(): Promise<ManagedProcess>;
  /** Stops agents, coordinator, client and (if started here) nats-server. */
  stop(): Promise<void>;
}

/** Starts nats (unless given), a coordinator and the agents, each as its own process. */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const echo = options.echo ?? Deno.env.get("COOP_VERBOSE") === "1";
  const nats = options.natsUrl === undefined ? await startLocalNats({ maxPayload: options.maxPayload }) : undefined;
  const natsUrl = options.natsUrl ?? nats!.url;
  const cluster = options.cluster ?? "default";
  const env = { ...options.env, COOP_NATS_URL: natsUrl, COOP_EXIT_WITH_PARENT: "1" };
  const cli = (name: string, args: string[]) =>
    new ManagedProcess(name, Deno.execPath(), ["run", "-A", "--no-prompt", CLI, ...args], { env, echo });
  const agents = new Map<string, ManagedProcess>();
  let client: Cluster | undefined;
  let coordinator: ManagedProcess | undefined;

  const startCoordinator = async () => {
    const args = ["up", "--nats", natsUrl, "--cluster", cluster, `--api-port=${options.apiPort ?? -1}`];
    if (options.nodeTimeoutMs !== undefined) args.push("--node-timeout-ms", String(options.nodeTimeoutMs));
    const process = cli("coordinator", args);
    await waitFor("the coordinator", 30_000, async () => {
      await client!.nodes();
      return true;
    }, process);
    return process;
  };
  const addAgent = async (spec: LocalAgentSpec) => {
    const args = ["agent", "--nats", natsUrl, "--cluster", cluster, "--node-id", spec.nodeId];
    if (spec.cpus !== undefined) args.push("--cpus", String(spec.cpus));
    if (spec.gpus?.length) args.push("--gpus", spec.gpus.join(","));
    if (spec.memoryMb !== undefined) args.push("--memory-mb", String(spec.memoryMb));
    for (const [k, v] of Object.entries(spec.resources ?? {})) args.push("--resource", `${k}=${v}`);
    for (const [k, v] of Object.entries(spec.labels ?? {})) args.push("--label", `${k}=${v}`);
    for (const module of options.registry ?? []) args.push("--registry", module);
    if (options.heartbeatMs !== undefined) args.push("--heartbeat-ms", String(options.heartbeatMs));
    const process = cli(`agent ${spec.nodeId}`, args);
    agents.set(spec.nodeId, process);
    await waitFor(`agent "${spec.nodeId}" to register`, 30_000, async () => {
      const nodes = await client!.nodes();
      return nodes.some((n) => n.id === spec.nodeId && n.state === "alive");
    }, process);
    return process;
  };
  const stop = async () => {
    await client?.close().catch(() => {});
    await Promise.all([...agents.values()].map((p) => p.stop()));
    await coordinator?.stop();
    await nats?.stop();
  };

  try {
    const transport = await connectNats({
      ...natsOptionsFromEnv({ ...Deno.env.toObject(), COOP_NATS_URL: natsUrl }),
      name: "coop-local",
    });
    client = new Cluster(transport, { cluster, ownsTransport: true });
    coordinator = await startCoordinator();
    await Promise.all((options.agents ?? []).map(addAgent));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    natsUrl,
    nats,
    get coordinator() {
      return coordinator!;
    },
    agents,
    client,
    addAgent,
    async restartCoordinator() {
      coordinator = await startCoordinator();
      return coordinator;
    },
    stop,
  };
}
