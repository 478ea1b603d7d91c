/**
 * The per-host part of the data plane, run by the node agent: sweeps segments of dead processes (at start and every
 * 30 s), deletes retired versions' segments, and optionally serves the directory to other hosts. The agent passes
 * {@link WeightService.env} to its actor hosts so they publish into, load from and advertise the same place.
 */
import type { Transport } from "../../shared/mod.ts";
import { WEIGHTS_ENV } from "./env.ts";
import { defaultWeightsDir, WeightPlane } from "./plane.ts";
import { sweepSegments } from "./segment.ts";
import { startWeightServer, type WeightServer } from "./server.ts";

/** Options for {@link startWeightService}. */
export interface WeightServiceOptions {
  /** Segment directory (default /dev/shm/coop-weights). */
  dir?: string;
  /** Byte cap for the directory. */
  maxBytes?: number;
  /** Serve other hosts on `host:port` (port 0 = any; env COOP_WEIGHTS_LISTEN); omitted = same-host sharing only. */
  listen?: string;
  /** Address other hosts reach this one at (default: the listen host; env COOP_WEIGHTS_ADVERTISE). */
  advertise?: string;
}

/** A running service. */
export interface WeightService {
  /** Environment for actor hosts on this node. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the host's weight service. */
export function startWeightService(
  cluster: string,
  transport: Transport,
  options: WeightServiceOptions = {},
): WeightService {
  const dir = options.dir ?? Deno.env.get(WEIGHTS_ENV.dir) ?? defaultWeightsDir();
  const listen = options.listen ?? Deno.env.get("COOP_WEIGHTS_LISTEN");
  const advertise = options.advertise ?? Deno.env.get("COOP_WEIGHTS_ADVERTISE");
  const plane = new WeightPlane({ cluster, transport, dir });
  plane.listenForRetired();
  const sweeper = setInterval(() => sweepSegments(dir), 30_000);
  let server: WeightServer | undefined;
  const env: Record<string, string> = { [WEIGHTS_ENV.dir]: dir };
  if (options.maxBytes !== undefined) env[WEIGHTS_ENV.maxBytes] = String(options.maxBytes);
  if (listen !== undefined) {
    const [hostname, port] = splitHostPort(listen);
    // A fresh random token per agent: it reaches consumers only inside control records in the cluster's KV.
    const token = crypto.randomUUID() + crypto.randomUUID();
    server = startWeightServer({ dir, token, hostname, port, advertise });
    Object.assign(env, { [WEIGHTS_ENV.url]: server.url, [WEIGHTS_ENV.token]: token });
  }
  return {
    env,
    async stop() {
      clearInterval(sweeper);
      plane.close();
      await server?.stop();
    },
  };
}

function splitHostPort(listen: string): [string, number] {
  const at = listen.lastIndexOf(":");
  return at < 0 ? [listen, 0] : [listen.slice(0, at), Number(listen.slice(at + 1))];
}
