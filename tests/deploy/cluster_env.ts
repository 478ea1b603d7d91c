/**
 * What the deploy tests share about a test cluster: credentials, the NATS config taken from deploy/nats/, and a
 * way to run the test client and read its JSON answer.
 */
import { ROOT, type RunResult } from "./host.ts";

/** Credentials of a test cluster (fresh per run). */
export interface Secrets {
  natsUser: string;
  natsPassword: string;
  apiToken: string;
}

/** New random credentials. */
export function newSecrets(): Secrets {
  const hex = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  // A leading digit on purpose: nats-server parses variable values as config, so this only works when the
  // deploy files hand the password over quoted (see deploy/nats/nats.conf).
  return { natsUser: "coop", natsPassword: `2${hex()}`, apiToken: hex() };
}

/** The environment nats-server needs for deploy/nats/nats.conf (the password quoted, as compose passes it). */
export function natsServerEnv(secrets: Secrets): Record<string, string> {
  return { NATS_COOP_PASSWORD: `"${secrets.natsPassword}"` };
}

/** The NATS client environment every Coop process of the test cluster gets. */
export function natsEnv(url: string, secrets: Secrets): Record<string, string> {
  return { COOP_NATS_URL: url, COOP_NATS_USER: secrets.natsUser, COOP_NATS_PASSWORD: secrets.natsPassword };
}

/**
 * deploy/nats/nats.conf as shipped, with only the JetStream store dir moved (the shipped one is the container
 * volume /data).
 */
export async function natsConfig(storeDir: string): Promise<string> {
  const shipped = await Deno.readTextFile(`${ROOT}/deploy/nats/nats.conf`);
  const moved = shipped.replace(/store_dir:\s*"[^"]*"/, `store_dir: "${storeDir}"`);
  if (moved === shipped) throw new Error("deploy/nats/nats.conf has no store_dir line to move");
  return moved;
}

/** Parses the JSON line tests/deploy/client.ts printed; throws with its output when it failed. */
export function clientAnswer<T>(result: RunResult): T {
  const line = result.stdout.trim().split("\n").pop() ?? "";
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(
      `Test client printed no JSON (exit ${result.code}): ${result.stdout}\n${result.stderr.slice(-2000)}`,
    );
  }
  if (result.code !== 0) throw new Error(`Test client failed: ${line}\n${result.stderr.slice(-2000)}`);
  return parsed as T;
}

/** Node records as GET /v1/nodes returns them (the fields the tests read). */
export interface NodeSummary {
  id: string;
  state?: string;
  alive?: boolean;
  labels?: Record<string, string>;
}
