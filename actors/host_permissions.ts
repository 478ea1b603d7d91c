/**
 * The Deno permissions of an actor host process: what a host needs and nothing else. An actor runs code from the
 * agent's registry with arguments from remote callers, so a host is the process an attacker who gets a method to
 * misbehave lands in; it gets:
 * - net: the NATS servers' hosts, and the weight data plane's peers when the agent names them (`netHosts`);
 * - read: the code (the module dir with its node_modules, the registry modules' dirs), the path roots (data,
 *   models, runs), the weight segment dir and the NATS credential/TLS files;
 * - write: the run roots (checkpoints) and the weight segment dir;
 * - env: the variables it reads, by name;
 * - ffi: onnxruntime-node is a native addon. FFI is not a sandbox: native code can do anything the OS user can,
 *   so the permissions bound what TypeScript in the host can reach, not what a compromised native library can.
 * No run, no sys beyond what is listed, no import from the network.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { NATS_ENV_VARS, natsOptionsFromEnv, rootsFromEnv } from "../shared/mod.ts";

/** The code: this checkout, with its node_modules (onnxruntime's native library among them). */
const MODULE_DIR = fileURLToPath(new URL("../", import.meta.url));

/** Environment variables an actor host reads (the agent sets most of them). */
export const HOST_ENV_VARS = [
  "COOP_ACTOR_ID",
  "COOP_ACTOR_NAME",
  "COOP_NATS_INBOX_PREFIX",
  "COOP_REGISTRY",
  "COOP_THREADS",
  "OMP_NUM_THREADS",
  "CUDA_VISIBLE_DEVICES",
  "COOP_EXECUTION_PROVIDER",
  "COOP_WEIGHTS_DIR",
  "COOP_WEIGHTS_MAX_BYTES",
  "COOP_WEIGHTS_URL",
  "COOP_WEIGHTS_TOKEN",
  "COOP_WEIGHTS_NATIVE",
  "COOP_WEIGHTS_DURABLE",
  "COOP_WEIGHTS_RECEIVE",
  "COOP_ROOTS_DATA",
  "COOP_ROOTS_MODELS",
  "COOP_ROOTS_RUNS",
  "COOP_MAX_FILE_MB",
  "COOP_LOG_FORMAT",
  "COOP_LOG_LEVEL",
  "COOP_HF_FIXTURES",
  "TMPDIR",
  "NODE_ENV",
  "NODE_DEBUG",
] as const;

/** What {@link hostPermissionFlags} grants. */
export interface HostPermissionOptions {
  /** NATS server URLs (`nats://host:port`, `tls://...`, or `host:port`). */
  natsServers: string[];
  /** Extra `host[:port]` entries for --allow-net (the weight plane's peers on other machines). */
  netHosts?: string[];
  /** Directories (or files) the host may read. */
  read: string[];
  /** Directories the host may write (and read). */
  write: string[];
  /** Environment variable names on top of {@link HOST_ENV_VARS} (e.g. the NATS settings the agent passes on). */
  env?: string[];
}

/** `host:port` of a NATS server URL (default port 4222). */
export function natsHostPort(server: string): string {
  const url = new URL(server.includes("://") ? server : `nats://${server}`);
  return `${url.hostname}:${url.port === "" ? "4222" : url.port}`;
}

/** The `deno run` permission flags of an actor host. */
export function hostPermissionFlags(options: HostPermissionOptions): string[] {
  const unique = (values: string[]) => [...new Set(values.filter((v) => v !== ""))];
  const net = unique([...options.natsServers.map(natsHostPort), ...(options.netHosts ?? [])]);
  const write = unique(options.write.map((p) => resolve(p)));
  const read = unique([...options.read.map((p) => resolve(p)), ...write]);
  const env = unique([...HOST_ENV_VARS, ...(options.env ?? [])]);
  return [
    `--allow-net=${net.join(",")}`,
    `--allow-read=${read.join(",")}`,
    `--allow-write=${write.join(",")}`,
    `--allow-env=${env.join(",")}`,
    "--allow-ffi",
    "--no-prompt",
  ];
}

/** The directories of registry modules given as paths (URLs are the agent's own concern: they need net). */
export function registryDirs(modules: readonly string[]): string[] {
  return modules.filter((m) => !/^[a-z]+:\/\//i.test(m) || m.startsWith("file://"))
    .map((m) => dirname(m.startsWith("file://") ? new URL(m).pathname : resolve(m)));
}

/** What {@link defaultHostPermissions} derives the permissions from. */
export interface HostSandboxInput {
  /** The environment the host gets (the agent's, with its additions). */
  env: Record<string, string | undefined>;
  /** The agent's registry modules. */
  registry: readonly string[];
  /** Extra --allow-net entries (`COOP_HOST_ALLOW_NET`, comma-separated, on top). */
  netHosts?: string[];
  /** Extra readable paths (`COOP_HOST_ALLOW_READ`, `:`-separated, on top). */
  read?: string[];
}

/**
 * An actor host's permissions from its environment: NATS from `COOP_NATS_URL`, the roots from `COOP_ROOTS_*`
 * (read data and models, write runs), the weight segment dir and the host of the agent's weight server, NATS
 * credential and TLS files, and whatever `COOP_HOST_ALLOW_NET` / `COOP_HOST_ALLOW_READ` / `COOP_HOST_ALLOW_WRITE`
 * add (the weight peers on other machines, a model cache outside the roots, a scratch dir).
 */
export function defaultHostPermissions(input: HostSandboxInput): HostPermissionOptions {
  const { env } = input;
  const list = (name: string, separator: string) => (env[name] ?? "").split(separator).filter((v) => v !== "");
  const roots = rootsFromEnv({ get: (name) => env[name] });
  const files = ["COOP_NATS_CREDS", "COOP_NATS_NKEY_SEED_FILE", "COOP_NATS_TLS_CA", "COOP_NATS_TLS_CERT"]
    .concat(["COOP_NATS_TLS_KEY", "COOP_HF_FIXTURES"])
    .map((name) => env[name]).filter((path): path is string => path !== undefined && path !== "");
  const weightsDir = env.COOP_WEIGHTS_DIR;
  const weightServer = env.COOP_WEIGHTS_URL === undefined ? [] : [new URL(env.COOP_WEIGHTS_URL).hostname];
  return {
    natsServers: [natsOptionsFromEnv(env).servers].flat(),
    netHosts: [...weightServer, ...list("COOP_HOST_ALLOW_NET", ","), ...(input.netHosts ?? [])],
    read: [MODULE_DIR, ...registryDirs(input.registry), ...roots.data, ...roots.models, ...files]
      .concat(list("COOP_HOST_ALLOW_READ", ":"), input.read ?? []),
    write: [...roots.runs, ...(weightsDir === undefined ? [] : [weightsDir]), ...list("COOP_HOST_ALLOW_WRITE", ":")],
    env: [...NATS_ENV_VARS],
  };
}

/** Variables the Deno runtime itself reads (its cache, temp dir): passed on, but not readable by actor code. */
const RUNTIME_ENV_VARS = ["HOME", "PATH", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR", "LANG", "NO_COLOR"];

/** How an agent starts its actor hosts: `deno run` flags and the environment (nothing else is inherited). */
export interface HostCommand {
  flags: string[];
  env: Record<string, string>;
}

/**
 * The host command for an agent whose hosts get `env` (the agent's environment with its additions). A host's
 * environment holds only the variables it reads and the runtime's own, so the agent's other settings (its API
 * token, its own NATS credentials) never reach actor code; `all` keeps the old `-A` and the whole environment.
 */
export function hostCommand(options: HostSandboxInput & { all?: boolean }): HostCommand {
  const defined = (entries: [string, string | undefined][]) =>
    Object.fromEntries(entries.filter((e): e is [string, string] => e[1] !== undefined));
  if (options.all) return { flags: ["-A", "--no-prompt"], env: defined(Object.entries(options.env)) };
  const permissions = defaultHostPermissions(options);
  const names = [...RUNTIME_ENV_VARS, ...HOST_ENV_VARS, ...(permissions.env ?? [])];
  return {
    flags: hostPermissionFlags(permissions),
    env: defined(names.map((name) => [name, options.env[name]])),
  };
}

/** Paths Deno opens only under `--allow-all`, whatever the read/write lists say (denoland/deno#30979). */
const ALL_ACCESS_ONLY = ["/dev/", "/proc/", "/sys/"];

/**
 * The weight segment dir sandboxed hosts can use: `dir` itself, unless it lies where Deno requires `--allow-all`
 * (the default `/dev/shm/coop-weights` does); then `$TMPDIR/coop-weights`. Set COOP_WEIGHTS_DIR to a tmpfs outside
 * /dev (e.g. /run/user/<uid>) to keep segments in memory with sandboxed hosts.
 */
export function sandboxedWeightsDir(dir: string, tmpDir = "/tmp"): string {
  const path = resolve(dir);
  return ALL_ACCESS_ONLY.some((prefix) => path.startsWith(prefix)) ? `${tmpDir}/coop-weights` : path;
}
