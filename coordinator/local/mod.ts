/** An embedded cluster on this machine (nats-server, coordinator, agents as child processes) for `--local` runs, the demo and tests. */
export { freePort, ManagedProcess, startLocalCluster, startLocalNats } from "./local_cluster.ts";
export type { LocalAgentSpec, LocalCluster, LocalClusterOptions, LocalNats } from "./local_cluster.ts";
