/**
 * The actor runtime's client API (cluster, typed handles, pools, registry) and the pieces that run actors
 * (node agent, actor host).
 */
export { Cluster } from "./core/mod.ts";
export type { ClusterOptions, PlacementGroup, SpawnOptions } from "./core/mod.ts";
export { connectCluster } from "./connect.ts";
export type { ConnectClusterOptions } from "./connect.ts";
export type { ActorHandle, ActorMethods, CallOptions, HandleInfo } from "./core/mod.ts";
export { ActorPool } from "./core/mod.ts";
export type { PoolOptions } from "./core/mod.ts";
export { lookupActor, registerActor, registeredActorNames, registerLazyModule, resolveActor } from "./core/mod.ts";
export type { MethodSpec, RegisteredActor, RegisterOptions } from "./core/mod.ts";
export { actorContext } from "./core/mod.ts";
export type { ActorContext, RestoreInfo } from "./core/mod.ts";
export { startAgent } from "./agent.ts";
export type { Agent, AgentOptions } from "./agent.ts";
export { runActorHost } from "./host.ts";
export type { HostSpec, RunningHost } from "./host.ts";
export { Counter, Echo } from "./demo_actors.ts";
