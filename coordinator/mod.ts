/** The coordinator (registry, placement, supervision, KV state), its process runners and the local cluster. */
export { Coordinator } from "./coordinator.ts";
export type { CoordinatorOptions } from "./coordinator.ts";
export { StateStore } from "./state_store.ts";
export { runAgentProcess, runCoordinator } from "./serve.ts";
export type { RunAgentOptions, RunCoordinatorOptions } from "./serve.ts";
export { freePort, ManagedProcess, startLocalCluster, startLocalNats } from "./local_cluster.ts";
export type { LocalAgentSpec, LocalCluster, LocalClusterOptions, LocalNats } from "./local_cluster.ts";
export { actorView, apiDeps, clusterSnapshot } from "./views.ts";
export { COMMANDS, main } from "./cli.ts";
export type { Command } from "./cli.ts";
