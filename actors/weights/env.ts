/**
 * How a process finds its host's data plane: the node agent hands its actor hosts the segment directory, the byte
 * cap and (when it serves other hosts) its server's URL and token through the environment.
 */
import type { Transport } from "../../shared/mod.ts";
import { WeightPlane } from "./plane.ts";
import { RECEIVE_ENV } from "./sink.ts";

/** Environment variable names (set by the agent, read by actor hosts). */
export const WEIGHTS_ENV = {
  dir: "COOP_WEIGHTS_DIR",
  maxBytes: "COOP_WEIGHTS_MAX_BYTES",
  url: "COOP_WEIGHTS_URL",
  token: "COOP_WEIGHTS_TOKEN",
  /** `map` | `write`: how downloads store received chunks (actors/weights/sink.ts). */
  receive: RECEIVE_ENV,
} as const;

/** A plane configured from this process's environment. */
export function planeFromEnv(cluster: string, transport: Transport, blobBucket?: string): WeightPlane {
  const env = (name: string) => Deno.env.get(name) || undefined;
  const maxBytes = env(WEIGHTS_ENV.maxBytes);
  const url = env(WEIGHTS_ENV.url);
  const token = env(WEIGHTS_ENV.token);
  return new WeightPlane({
    cluster,
    transport,
    blobBucket,
    dir: env(WEIGHTS_ENV.dir),
    maxBytes: maxBytes === undefined ? undefined : Number(maxBytes),
    server: url !== undefined && token !== undefined ? { url, token } : undefined,
  });
}
