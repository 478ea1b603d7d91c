/**
 * Shared test harness: a real nats-server on a free port (JetStream on, a temp store dir), started per test and
 * always cleaned up. Never assumes a server is already running.
 */
import { freePort } from "../coordinator/local/mod.ts";
import { terminate } from "../shared/process.ts";

/** Options for {@link startNats}. */
export interface NatsServerOptions {
  /** Server max_payload in bytes; nats-server's default is 1 MiB. */
  maxPayload?: number;
  /** Extra lines appended to the generated config file (auth blocks, TLS, ...). */
  extraConfig?: string;
  /** Reuse this port (e.g. to restart a server where clients expect it). */
  port?: number;
  /** Reuse this JetStream store dir (so KV/Object Store survive a restart). */
  storeDir?: string;
}

/** A running nats-server owned by a test. */
export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  /** Stop the server (SIGTERM, then SIGKILL) and remove its temp dirs unless `keepStore`. */
  stop(options?: { keepStore?: boolean }): Promise<void>;
  /** Stop and start again on the same port and store (clients should reconnect); `downMs`: an outage that long. */
  restart(options?: { downMs?: number }): Promise<void>;
}

/** Returns a TCP port that was free a moment ago. */
export { freePort };

async function waitForPort(port: number, timeoutMs: number, child: Deno.ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < deadline) {
    if (exited) throw new Error(`nats-server exited before listening on port ${port}`);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error(`nats-server did not listen on port ${port} within ${timeoutMs} ms`);
}

/** Starts nats-server with JetStream on a free port; the caller must `stop()` it (use try/finally). */
export async function startNats(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = options.port ?? freePort();
  const workDir = await Deno.makeTempDir({ prefix: "coop-nats-" });
  const storeDir = options.storeDir ?? `${workDir}/js`;
  const config = [
    `listen: "127.0.0.1:${port}"`,
    `max_payload: ${options.maxPayload ?? 1024 * 1024}`,
    `jetstream { store_dir: "${storeDir}" }`,
    options.extraConfig ?? "",
  ].join("\n");
  const configPath = `${workDir}/nats.conf`;
  await Deno.writeTextFile(configPath, config);

  let child: Deno.ChildProcess;
  const launch = async () => {
    child = new Deno.Command("nats-server", { args: ["-c", configPath], stdout: "null", stderr: "null" }).spawn();
    await waitForPort(port, 10_000, child);
  };
  const kill = () => terminate(child, 3000);
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop(stopOptions = {}) {
      await kill();
      if (!stopOptions.keepStore) await Deno.remove(workDir, { recursive: true }).catch(() => {});
    },
    async restart(restartOptions = {}) {
      await kill();
      if (restartOptions.downMs) await new Promise((resolve) => setTimeout(resolve, restartOptions.downMs));
      await launch();
    },
  };
}
