/**
 * Entry point of an actor host process, started by a node agent. It reads its `HostSpec` (msgpack) from stdin,
 * imports the registry modules listed in `COOP_REGISTRY` (the agent's own configuration), connects to NATS with
 * the `COOP_NATS_*` settings, and serves the actor until SIGTERM (graceful) or SIGKILL.
 */
import { decode } from "../shared/mod.ts";
import { CoopError } from "../shared/mod.ts";
import { createLogger } from "../shared/mod.ts";
import { connectNats } from "../shared/mod.ts";
import { NATS_ENV_VARS, natsOptionsFromEnv } from "../shared/mod.ts";
import { type HostSpec, runActorHost } from "./host.ts";
import { loadRegistryModules } from "./core/mod.ts";
import "./known_actors.ts";

const log = createLogger({ component: "actor-host" });

/** Reads the length-prefixed spec, then watches stdin: EOF means the agent died, and its actors die with it. */
async function readSpec(onAgentGone: () => void): Promise<Uint8Array> {
  const reader = Deno.stdin.readable.getReader();
  let buffered = new Uint8Array(0);
  const append = (chunk: Uint8Array) => {
    const next = new Uint8Array(buffered.byteLength + chunk.byteLength);
    next.set(buffered);
    next.set(chunk, buffered.byteLength);
    buffered = next;
  };
  let length = -1;
  while (length < 0 || buffered.byteLength < 4 + length) {
    const { value, done } = await reader.read();
    if (done) {
      throw new CoopError(`Actor host: stdin closed after ${buffered.byteLength} bytes, before the spec arrived`);
    }
    append(value);
    if (length < 0 && buffered.byteLength >= 4) length = new DataView(buffered.buffer).getUint32(0);
  }
  void (async () => {
    while (!(await reader.read()).done) { /* the agent never writes more */ }
    onAgentGone();
  })().catch(onAgentGone);
  return buffered.subarray(4, 4 + length);
}

async function main(): Promise<number> {
  const spec = decode(
    await readSpec(() => {
      log.warn("the agent is gone; exiting");
      Deno.exit(1);
    }),
  ) as HostSpec;
  const modules = (Deno.env.get("COOP_REGISTRY") ?? "").split(",").filter((m) => m !== "");
  // A bad registry module must not stop the host from reporting why the class is unknown.
  await loadRegistryModules(modules).catch((error) => log.error((error as Error).message));
  // By name: the host may read only the variables it is allowed (--allow-env), not the whole environment.
  const natsEnv = Object.fromEntries(NATS_ENV_VARS.map((name) => [name, Deno.env.get(name)]));
  // Its --allow-net lists the NATS servers as configured: dial them by name, not by what they resolve to.
  const transport = await connectNats({
    ...natsOptionsFromEnv(natsEnv),
    name: `coop-actor-${spec.actor.id}`,
    onlyListedServers: true,
    // Set with a per-actor credential, which allows replies below this prefix only.
    inboxPrefix: Deno.env.get("COOP_NATS_INBOX_PREFIX") || undefined,
  });
  let host;
  try {
    host = await runActorHost(transport, spec);
  } catch {
    await transport.close().catch(() => {});
    return 1;
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await host.stop();
    await transport.close().catch(() => {});
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => void stop());
  Deno.addSignalListener("SIGINT", () => void stop());
  await host.done;
  return 0;
}

Deno.exit(await main());
