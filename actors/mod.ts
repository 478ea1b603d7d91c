/**
 * The actor runtime's client API (cluster, typed handles, pools, registry) and the pieces that run actors
 * (node agent, actor host).
 */
export { Cluster } from "./core/cluster.ts";
export type { ClusterOptions, PlacementGroup, SpawnOptions } from "./core/cluster.ts";
export { connectCluster } from "./connect.ts";
export type { ConnectClusterOptions } from "./connect.ts";
export type { ActorHandle, ActorMethods, CallOptions, HandleInfo } from "./core/handle.ts";
export { ActorPool } from "./core/pool.ts";
export type { PoolOptions } from "./core/pool.ts";
export { lookupActor, registerActor, registeredActorNames, registerLazyModule, resolveActor } from "./core/registry.ts";
export type { MethodSpec, RegisteredActor, RegisterOptions } from "./core/registry.ts";
export { actorContext } from "./core/context.ts";
export type { ActorContext, RestoreInfo } from "./core/context.ts";
export { startAgent } from "./agent.ts";
export type { Agent, AgentOptions } from "./agent.ts";
export { runActorHost } from "./host.ts";
export type { HostSpec, RunningHost } from "./host.ts";
export { Counter, Echo } from "./demo_actors.ts";
