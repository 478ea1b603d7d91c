/**
 * The actor runtime's client API (cluster, typed handles, pools, registry) and the pieces that run actors
 * (node agent, actor host).
 */
export { Cluster } from "./cluster.ts";
export type { ClusterOptions, PlacementGroup, SpawnOptions } from "./cluster.ts";
export { connectCluster } from "./connect.ts";
export type { ConnectClusterOptions } from "./connect.ts";
export type { ActorHandle, ActorMethods, CallOptions, HandleInfo } from "./handle.ts";
export { ActorPool } from "./pool.ts";
export type { PoolOptions } from "./pool.ts";
export { lookupActor, registerActor, registeredActorNames, registerLazyModule, resolveActor } from "./registry.ts";
export type { MethodSpec, RegisteredActor, RegisterOptions } from "./registry.ts";
export { actorContext } from "./context.ts";
export type { ActorContext, RestoreInfo } from "./context.ts";
export { startAgent } from "./agent.ts";
export type { Agent, AgentOptions } from "./agent.ts";
export { runActorHost } from "./host.ts";
export type { HostSpec, RunningHost } from "./host.ts";
export { Counter, Echo } from "./demo_actors.ts";
