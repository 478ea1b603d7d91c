/**
 * How a Coop process connects to NATS: servers, one authentication method (user/password, token, NKey seed or a
 * `.creds` file) and optional TLS, from code or from `COOP_NATS_*` environment variables. Validation happens here so
 * a bad setting fails at startup with a {@link ConfigError} naming the option or variable, and secrets are never
 * echoed in messages.
 */
import { credsAuthenticator, nkeyAuthenticator, nkeys } from "@nats-io/transport-node";
import type { NodeConnectionOptions } from "@nats-io/transport-node";
import { ConfigError } from "./errors.ts";

/** TLS files (PEM). A client certificate needs both `certFile` and `keyFile`. */
export interface NatsTlsOptions {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

/** Options for `connectNats`. Give at most one authentication method. */
export interface NatsConnectOptions {
  /** One or more server URLs (`nats://host:4222`, `tls://host:4222`). */
  servers: string | string[];
  /** Connection name shown by the server (e.g. "coop-agent-1"). */
  name?: string;
  user?: string;
  password?: string;
  token?: string;
  /** NKey user seed ("SU..."). */
  nkeySeed?: string;
  /** File holding the NKey user seed. */
  nkeySeedFile?: string;
  /** A `.creds` file (user JWT + seed) from `nsc`. */
  credsFile?: string;
  tls?: NatsTlsOptions;
  /** Largest message the transport carries (chunked above max_payload). Default 1 GiB. */
  maxMessageBytes?: number;
  /** Cap on bytes being reassembled at once across messages (bounds memory a burst can claim). Default 2× max. */
  maxReassemblyBytes?: number;
  /** A half-received chunked message is dropped after this long without a chunk. Default 30 s. */
  chunkIdleMs?: number;
  /** Give up on the initial connection (TCP, TLS handshake, auth) after this long. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Replicas of the JetStream buckets and streams this process creates (state KV, blobs, logs). Default 1; a
   * production cluster of three servers uses 3 (COOP_NATS_REPLICAS), so losing one server loses no state.
   */
  replicas?: number;
  /** Keep retrying when the server is not up yet at connect time (default false: fail fast). */
  waitOnFirstConnect?: boolean;
  /** Pause between reconnect attempts. Default 500 ms. */
  reconnectTimeWaitMs?: number;
  /**
   * With `waitOnFirstConnect`: called while the server is still unreachable, first after `waitingReportMs` and
   * then every `waitingReportMs` until connected (default: a line on stderr naming the URL and the time waited).
   */
  onWaiting?: (info: { servers: string[]; waitedMs: number }) => void;
  /** Interval of {@link onWaiting} reports. Default 2000 ms. */
  waitingReportMs?: number;
  /** Called for background errors (a dropped chunked message, a server error); default logs them. */
  onError?: (error: Error) => void;
  /**
   * Connect only to the servers as named (default false): no DNS resolution by nats.js (it would dial the resolved
   * IPs) and no servers learned from the cluster's gossip. For sandboxed actor hosts, whose --allow-net lists the
   * configured `host:port`s.
   */
  onlyListedServers?: boolean;
  /**
   * Prefix of this connection's reply inboxes (default `_INBOX`): an actor host with per-actor credentials gets one
   * of its own, so that it may subscribe to its replies and nobody else's.
   */
  inboxPrefix?: string;
}

/** The variables that carry NATS authentication (one method at a time; see {@link natsOptionsFromEnv}). */
export const NATS_AUTH_ENV_VARS = [
  "COOP_NATS_USER",
  "COOP_NATS_PASSWORD",
  "COOP_NATS_TOKEN",
  "COOP_NATS_NKEY_SEED",
  "COOP_NATS_NKEY_SEED_FILE",
  "COOP_NATS_CREDS",
] as const;

/** The environment variables {@link natsOptionsFromEnv} reads. */
export const NATS_ENV_VARS = [
  "COOP_NATS_URL",
  ...NATS_AUTH_ENV_VARS,
  "COOP_NATS_TLS_CA",
  "COOP_NATS_TLS_CERT",
  "COOP_NATS_TLS_KEY",
  "COOP_NATS_REPLICAS",
] as const;

/** Default server when `COOP_NATS_URL` is unset. */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/**
 * Reads `COOP_NATS_*` variables into {@link NatsConnectOptions}; throws a {@link ConfigError} naming the variable
 * when one is malformed, a referenced file is missing, or several auth methods are set.
 */
export function natsOptionsFromEnv(env: Record<string, string | undefined> = Deno.env.toObject()): NatsConnectOptions {
  const get = (name: (typeof NATS_ENV_VARS)[number]) => {
    const value = env[name]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const servers = (get("COOP_NATS_URL") ?? DEFAULT_NATS_URL).split(",").map((s) => s.trim()).filter((s) => s !== "");
  const options: NatsConnectOptions = { servers };
  for (const server of servers) checkServerUrl(server, "COOP_NATS_URL");
  const replicas = get("COOP_NATS_REPLICAS");
  if (replicas !== undefined) {
    const n = Number(replicas);
    if (!Number.isInteger(n) || n < 1 || n > 5) {
      throw new ConfigError(`Invalid COOP_NATS_REPLICAS "${replicas}": expected 1 to 5 (JetStream's limit)`);
    }
    options.replicas = n;
  }

  const user = get("COOP_NATS_USER");
  const password = get("COOP_NATS_PASSWORD");
  if (user !== undefined && password === undefined) {
    throw new ConfigError("Invalid NATS settings: COOP_NATS_PASSWORD is required when COOP_NATS_USER is set");
  }
  if (password !== undefined && user === undefined) {
    throw new ConfigError("Invalid NATS settings: COOP_NATS_USER is required when COOP_NATS_PASSWORD is set");
  }
  const methods: string[] = [];
  if (user !== undefined) {
    methods.push("COOP_NATS_USER/COOP_NATS_PASSWORD");
    options.user = user;
    options.password = password;
  }
  const token = get("COOP_NATS_TOKEN");
  if (token !== undefined) {
    methods.push("COOP_NATS_TOKEN");
    options.token = token;
  }
  const seed = get("COOP_NATS_NKEY_SEED");
  if (seed !== undefined) {
    methods.push("COOP_NATS_NKEY_SEED");
    checkSeed(seed, "COOP_NATS_NKEY_SEED");
    options.nkeySeed = seed;
  }
  const seedFile = get("COOP_NATS_NKEY_SEED_FILE");
  if (seedFile !== undefined) {
    methods.push("COOP_NATS_NKEY_SEED_FILE");
    checkFile(seedFile, "COOP_NATS_NKEY_SEED_FILE");
    options.nkeySeedFile = seedFile;
  }
  const creds = get("COOP_NATS_CREDS");
  if (creds !== undefined) {
    methods.push("COOP_NATS_CREDS");
    checkFile(creds, "COOP_NATS_CREDS");
    options.credsFile = creds;
  }
  if (methods.length > 1) {
    throw new ConfigError(`Invalid NATS settings: set one authentication method, got ${methods.join(", ")}`);
  }

  const tls: NatsTlsOptions = {};
  const ca = get("COOP_NATS_TLS_CA");
  const cert = get("COOP_NATS_TLS_CERT");
  const key = get("COOP_NATS_TLS_KEY");
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError("Invalid NATS settings: COOP_NATS_TLS_CERT and COOP_NATS_TLS_KEY must be set together");
  }
  if (ca !== undefined) tls.caFile = checkFile(ca, "COOP_NATS_TLS_CA");
  if (cert !== undefined) tls.certFile = checkFile(cert, "COOP_NATS_TLS_CERT");
  if (key !== undefined) tls.keyFile = checkFile(key, "COOP_NATS_TLS_KEY");
  if (Object.keys(tls).length > 0) options.tls = tls;
  return options;
}

function checkServerUrl(server: string, what: string): void {
  const withScheme = /^[a-z]+:\/\//i.test(server) ? server : `nats://${server}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError(`Invalid NATS settings: ${what} has a malformed server URL "${server}"`);
  }
  if (!["nats:", "tls:", "ws:", "wss:"].includes(url.protocol)) {
    throw new ConfigError(
      `Invalid NATS settings: ${what} server "${server}" must use nats://, tls://, ws:// or wss://`,
    );
  }
  if (url.hostname === "") throw new ConfigError(`Invalid NATS settings: ${what} server "${server}" has no host`);
}

function checkFile(path: string, what: string): string {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    throw new ConfigError(`Invalid NATS settings: ${what} file "${path}" cannot be read: ${(error as Error).message}`);
  }
  if (!info.isFile) throw new ConfigError(`Invalid NATS settings: ${what} "${path}" is not a file`);
  return path;
}

function checkSeed(seed: string, what: string): void {
  try {
    nkeys.fromSeed(new TextEncoder().encode(seed));
  } catch {
    // The seed itself is secret, so the message only names where it came from.
    throw new ConfigError(`Invalid NATS settings: ${what} is not a valid NKey seed`);
  }
}

async function readConfigFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    throw new ConfigError(`Invalid NATS settings: ${what} file "${path}" cannot be read: ${(error as Error).message}`);
  }
}

/** Validates {@link NatsConnectOptions} and turns them into nats.js connection options (reads key files). */
export async function toNatsJsOptions(options: NatsConnectOptions): Promise<NodeConnectionOptions> {
  const servers = typeof options.servers === "string" ? [options.servers] : [...options.servers];
  if (servers.length === 0) throw new ConfigError("Invalid NATS settings: servers must name at least one server");
  for (const server of servers) checkServerUrl(server, "servers");
  const methods = [
    options.user !== undefined || options.password !== undefined ? "user/password" : undefined,
    options.token !== undefined ? "token" : undefined,
    options.nkeySeed !== undefined ? "nkeySeed" : undefined,
    options.nkeySeedFile !== undefined ? "nkeySeedFile" : undefined,
    options.credsFile !== undefined ? "credsFile" : undefined,
  ].filter((m) => m !== undefined);
  if (methods.length > 1) {
    throw new ConfigError(`Invalid NATS settings: set one authentication method, got ${methods.join(", ")}`);
  }
  if ((options.user === undefined) !== (options.password === undefined)) {
    throw new ConfigError("Invalid NATS settings: user and password must be given together");
  }
  const result: NodeConnectionOptions = {
    servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 500,
    waitOnFirstConnect: options.waitOnFirstConnect ?? false,
    timeout: options.connectTimeoutMs ?? 10_000,
    // nats.js builds two Error objects (stack captures) per request for "async traces": measured here, that halves
    // request/reply throughput (64 in flight: 15k -> 31k/s) and our errors carry their own context anyway.
    noAsyncTraces: true,
    ...(options.onlyListedServers ? { resolve: false, ignoreClusterUpdates: true } : {}),
    ...(options.inboxPrefix === undefined ? {} : { inboxPrefix: options.inboxPrefix }),
  };
  if (options.user !== undefined) {
    result.user = options.user;
    result.pass = options.password;
  }
  if (options.token !== undefined) result.token = options.token;
  if (options.nkeySeed !== undefined || options.nkeySeedFile !== undefined) {
    const seedText = options.nkeySeed ??
      new TextDecoder().decode(await readConfigFile(options.nkeySeedFile!, "nkeySeedFile")).trim();
    checkSeed(seedText, options.nkeySeed !== undefined ? "nkeySeed" : `nkeySeedFile "${options.nkeySeedFile}"`);
    result.authenticator = nkeyAuthenticator(new TextEncoder().encode(seedText));
  }
  if (options.credsFile !== undefined) {
    const creds = await readConfigFile(options.credsFile, "credsFile");
    const text = new TextDecoder().decode(creds);
    if (!text.includes("BEGIN NATS USER JWT") || !text.includes("BEGIN USER NKEY SEED")) {
      throw new ConfigError(`Invalid NATS settings: credsFile "${options.credsFile}" is not a NATS .creds file`);
    }
    result.authenticator = credsAuthenticator(creds);
  }
  if (options.tls !== undefined) {
    const { caFile, certFile, keyFile } = options.tls;
    if ((certFile === undefined) !== (keyFile === undefined)) {
      throw new ConfigError("Invalid NATS settings: tls.certFile and tls.keyFile must be given together");
    }
    // TLS 1.2 on purpose: under TLS 1.3 a server rejecting the client certificate says so in an alert after the
    // handshake, which nats.js's node transport (on Deno's node:tls) leaves unhandled: the process dies with
    // "received fatal alert: BadCertificate". With 1.2 the handshake itself fails and connect rejects cleanly.
    const tls = { maxVersion: "TLSv1.2" } as NonNullable<NodeConnectionOptions["tls"]>;
    if (caFile !== undefined) tls.ca = new TextDecoder().decode(await readConfigFile(caFile, "tls.caFile"));
    if (certFile !== undefined) tls.cert = new TextDecoder().decode(await readConfigFile(certFile, "tls.certFile"));
    if (keyFile !== undefined) tls.key = new TextDecoder().decode(await readConfigFile(keyFile, "tls.keyFile"));
    result.tls = tls;
  }
  return result;
}
