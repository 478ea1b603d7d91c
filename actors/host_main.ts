/**
 * Entry point of an actor host process, started by a node agent. It reads its `HostSpec` (msgpack) from stdin,
 * imports the registry modules listed in `COOP_REGISTRY` (the agent's own configuration), connects to NATS with
 * the `COOP_NATS_*` settings, and serves the actor until SIGTERM (graceful) or SIGKILL.
 */
import { decode } from "../shared/codec.ts";
import { connectNats } from "../shared/nats_transport.ts";
import { natsOptionsFromEnv } from "../shared/nats_options.ts";
import { type HostSpec, runActorHost } from "./host.ts";
import { loadRegistryModules } from "./registry.ts";
import "./known_actors.ts";

async function readStdin(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of Deno.stdin.readable) {
    chunks.push(chunk);
    total += chunk.byteLength;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

async function main(): Promise<number> {
  const spec = decode(await readStdin()) as HostSpec;
  const modules = (Deno.env.get("COOP_REGISTRY") ?? "").split(",").filter((m) => m !== "");
  // A bad registry module must not stop the host from reporting why the class is unknown.
  await loadRegistryModules(modules).catch((error) => console.error((error as Error).message));
  const transport = await connectNats({ ...natsOptionsFromEnv(), name: `coop-actor-${spec.actor.id}` });
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
