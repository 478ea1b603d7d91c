/** `connectCluster()`: a cluster client on its own NATS connection, configured like every Coop process. */
import { natsOptionsFromEnv } from "../shared/mod.ts";
import { connectNats } from "../shared/mod.ts";
import { Cluster } from "./core/mod.ts";

/** Options for {@link connectCluster}. */
export interface ConnectClusterOptions {
  /** NATS server URL(s); default `COOP_NATS_URL` (auth and TLS always from `COOP_NATS_*`). */
  nats?: string;
  /** Cluster name; default `COOP_CLUSTER` or "default". */
  cluster?: string;
  /** Connection name shown by the server. */
  name?: string;
}

/** Connects to NATS and returns a client of the cluster; `close()` closes the connection too. */
export async function connectCluster(options: ConnectClusterOptions = {}): Promise<Cluster> {
  const env = Deno.env.toObject();
  if (options.nats !== undefined) env.COOP_NATS_URL = options.nats;
  const transport = await connectNats({ ...natsOptionsFromEnv(env), name: options.name ?? "coop-client" });
  return new Cluster(transport, { cluster: options.cluster ?? env.COOP_CLUSTER ?? "default", ownsTransport: true });
}
