/**
 * Several "hosts" on one machine: one network namespace per host, each joined by a veth pair to a bridge that
 * lives in its own switch namespace. Nothing touches the root namespace, so test traffic stays between these
 * namespaces. Cutting a host's link sets its switch port down (a pulled cable: no carrier, packets dropped, TCP
 * connections stall rather than reset); restoring sets it up again.
 *
 * Names carry the creating process id, so a later run can remove what a killed run left behind.
 */
import { terminate } from "../../shared/process.ts";
import { ROOT, run, runId } from "./host.ts";

const PREFIX = "coopt";
const SUBNET = "10.231.7"; // only ever assigned inside the namespaces created here

/** One emulated host. */
export interface NetHost {
  /** Short name given by the caller ("head", "a", "b"). */
  name: string;
  /** Network namespace name. */
  ns: string;
  /** The host's address on the emulated LAN. */
  ip: string;
}

/** Options for {@link NetProcess}-starting {@link Lan.spawn}. */
export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
}

/** A process running inside a namespace, its output appended to a log file. */
export interface NetProcess {
  host: NetHost;
  pid: number;
  logPath: string;
  status: Promise<Deno.CommandStatus>;
  /** The log so far. */
  log(): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** An emulated LAN of hosts; always call `teardown()` (in a finally). */
export interface Lan {
  hosts: Map<string, NetHost>;
  host(name: string): NetHost;
  /** Starts `cmd` inside the host's namespace. */
  spawn(host: NetHost, cmd: string, args: string[], options?: SpawnOptions): NetProcess;
  /** Runs `cmd` inside the host's namespace to completion. */
  exec(host: NetHost, cmd: string, args: string[], options?: SpawnOptions): ReturnType<typeof run>;
  /** Pulls the host's cable. */
  cut(host: NetHost): Promise<void>;
  /** Plugs it back in. */
  restore(host: NetHost): Promise<void>;
  /** Kills every process in the namespaces and deletes them (and with them the veths and the bridge). */
  teardown(): Promise<void>;
}

function ip(args: string[]) {
  return run("ip", args);
}

/** Deletes namespaces left by runs whose process no longer exists. */
export async function sweepStale(): Promise<string[]> {
  const listed = await run("ip", ["netns", "list"], { check: false });
  const removed: string[] = [];
  for (const line of listed.stdout.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const match = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (!match) continue;
    try {
      Deno.statSync(`/proc/${match[1]}`);
      continue; // its run is still going
    } catch { /* stale */ }
    await killAllIn(name);
    await run("ip", ["netns", "del", name], { check: false });
    removed.push(name);
  }
  return removed;
}

async function killAllIn(ns: string): Promise<void> {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    const pids = await run("ip", ["netns", "pids", ns], { check: false });
    const list = pids.stdout.split(/\s+/).filter((p) => p !== "").map(Number);
    if (list.length === 0) return;
    for (const pid of list) {
      try {
        Deno.kill(pid, signal);
      } catch { /* gone */ }
    }
    if (signal === "SIGTERM") await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

/**
 * Creates the switch namespace (a bridge) and one namespace per host, cabled to the bridge by a veth pair. Each
 * namespace is pushed to `created` as soon as it exists, so the caller's teardown also removes a half-built LAN.
 */
async function wireLan(
  lan: { id: string; switchNs: string; names: string[]; created: string[] },
): Promise<Map<string, NetHost>> {
  const { id, switchNs, names, created } = lan;
  const hosts = new Map<string, NetHost>();
  await ip(["netns", "add", switchNs]);
  created.push(switchNs);
  await ip(["-n", switchNs, "link", "set", "lo", "up"]);
  await ip(["-n", switchNs, "link", "add", "br0", "type", "bridge"]);
  await ip(["-n", switchNs, "link", "set", "br0", "up"]);
  for (const [index, name] of names.entries()) {
    const host = { name, ns: `${id}-${name}`, ip: `${SUBNET}.${index + 1}` };
    await ip(["netns", "add", host.ns]);
    created.push(host.ns);
    // Both ends are created directly inside their namespaces, so no interface ever appears in the root one.
    await ip([
      "link",
      "add",
      "eth0",
      "netns",
      host.ns,
      "type",
      "veth",
      "peer",
      "name",
      `port${index}`,
      "netns",
      switchNs,
    ]);
    await ip(["-n", switchNs, "link", "set", `port${index}`, "master", "br0"]);
    await ip(["-n", switchNs, "link", "set", `port${index}`, "up"]);
    await ip(["-n", host.ns, "link", "set", "lo", "up"]);
    await ip(["-n", host.ns, "addr", "add", `${host.ip}/24`, "dev", "eth0"]);
    await ip(["-n", host.ns, "link", "set", "eth0", "up"]);
    hosts.set(name, host);
  }
  return hosts;
}

/** Runs `cmd` inside `host`'s namespace with its stdout and stderr appended to `options.logPath`. */
function spawnLogged(
  host: NetHost,
  cmd: string,
  args: string[],
  options: SpawnOptions & { logPath: string },
): NetProcess {
  const { logPath } = options;
  const file = Deno.openSync(logPath, { write: true, create: true, append: true });
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", host.ns, cmd, ...args],
    env: options.env,
    cwd: options.cwd ?? ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const sink = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) file.writeSync(chunk);
  };
  const drained = Promise.all([sink(child.stdout), sink(child.stderr)]).catch(() => {});
  const status = child.status.then(async (s) => {
    await drained;
    file.close();
    return s;
  });
  return {
    host,
    pid: child.pid,
    logPath,
    status,
    log: () => Deno.readTextFile(logPath).catch(() => ""),
    async stop(graceMs = 10_000) {
      await terminate(child, graceMs, { exited: status });
    },
  };
}

/** Creates a LAN with one namespace per name; the first host gets .1, the next .2, and so on. */
export async function createLan(names: string[]): Promise<Lan> {
  const id = `${PREFIX}${Deno.pid}-${runId()}`;
  const switchNs = `${id}-sw`;
  let hosts: Map<string, NetHost>;
  const created: string[] = [];
  const processes: NetProcess[] = [];
  const logDir = await Deno.makeTempDir({ prefix: "coop-netns-logs-" });

  const teardown = async () => {
    await Promise.all(processes.map((p) => p.stop(3000).catch(() => {})));
    for (const ns of created) await killAllIn(ns);
    for (const ns of created.reverse()) await run("ip", ["netns", "del", ns], { check: false });
    await Deno.remove(logDir, { recursive: true }).catch(() => {});
  };

  try {
    hosts = await wireLan({ id, switchNs, names, created });
  } catch (error) {
    await teardown();
    throw error;
  }

  const port = (host: NetHost) => `port${names.indexOf(host.name)}`;
  return {
    hosts,
    host(name) {
      const host = hosts.get(name);
      if (!host) throw new Error(`No host "${name}" on this LAN: expected one of ${names.join(", ")}`);
      return host;
    },
    spawn(host, cmd, args, options = {}) {
      const process = spawnLogged(host, cmd, args, {
        ...options,
        logPath: `${logDir}/${host.name}-${processes.length}.log`,
      });
      processes.push(process);
      return process;
    },
    exec(host, cmd, args, options = {}) {
      return run("ip", ["netns", "exec", host.ns, cmd, ...args], {
        env: options.env,
        cwd: options.cwd ?? ROOT,
        check: false,
      });
    },
    async cut(host) {
      await ip(["-n", switchNs, "link", "set", port(host), "down"]);
    },
    async restore(host) {
      await ip(["-n", switchNs, "link", "set", port(host), "up"]);
    },
    teardown,
  };
}
