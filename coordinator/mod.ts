/** The coordinator (registry, placement, supervision, KV state), its process runners and the local cluster. */
export { Coordinator } from "./coordinator.ts";
export type { CoordinatorOptions } from "./coordinator.ts";
export { StateStore } from "./state_store.ts";
export type { LoadedState } from "./state_store.ts";
export { acquireLease, Lease, LEASE_KEY, LeaseHeldError } from "./lease.ts";
export type { LeaseHolder, LeaseOptions } from "./lease.ts";
export { JetStreamLogStore, logStreamName, openLogStream } from "./log_store.ts";
export type { ActorLogStore, LogStreamOptions } from "./log_store.ts";
export { runAgentProcess, runCoordinator } from "./serve.ts";
export type { RunAgentOptions, RunCoordinatorOptions } from "./serve.ts";
export { freePort, ManagedProcess, startLocalCluster, startLocalNats } from "./local/mod.ts";
export type { LocalAgentSpec, LocalCluster, LocalClusterOptions, LocalNats } from "./local/mod.ts";
export { actorView, apiDeps, clusterSnapshot } from "./views.ts";
export type { ApiDepsOptions } from "./views.ts";
export { COMMANDS, main } from "./cli.ts";
export type { Command } from "./cli.ts";
export { Scheduler } from "./scheduler/mod.ts";
export type {
  ActorPlacement,
  Demand,
  NodeSpec,
  NodeUsage,
  PendingView,
  PlacementGroupState,
  PlacementGroupView,
  PlacementStrategy,
  PlaceOptions,
  PlaceResult,
  RetryResult,
  SchedulerJson,
} from "./scheduler/mod.ts";
export { createApp, DEFAULT_LOG_LINES } from "./api.ts";
export type { ApiDeps, ApiOptions, ClusterSummary } from "./api.ts";
export { formatActorsTable, formatClusterTable, formatNodesTable, formatQuantity } from "./status_table.ts";
export {
  ACTOR_STATES,
  apiTokenFromEnv,
  bearerAuth,
  ConflictError,
  errorResponse,
  openApiRouter,
  parseQuery,
} from "./http/mod.ts";
export type {
  ActorState,
  ActorView,
  ApiErrorBody,
  BearerAuthOptions,
  ClusterSnapshot,
  CoordinatorInfo,
  LogLine,
  NodeResources,
  NodeView,
} from "./http/mod.ts";
