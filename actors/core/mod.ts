/**
 * The actor runtime's client API: the cluster client, typed handles, pools, the class registry and the context an
 * actor reads. The rest of actors/ (roles, host, agent) and everything outside import it through this file.
 */
export { Cluster } from "./cluster.ts";
export type { ClusterOptions, PlacementGroup, SpawnOptions } from "./cluster.ts";
export type { ActorHandle, ActorMethods, CallOptions, HandleInfo } from "./handle.ts";
export { ActorPool } from "./pool.ts";
export type { PoolOptions } from "./pool.ts";
export {
  loadRegistryModules,
  lookupActor,
  registerActor,
  registeredActorNames,
  registerLazyModule,
  registrationOf,
  resolveActor,
  resolveMethod,
} from "./registry.ts";
export type { MethodSpec, RegisteredActor, RegisterOptions } from "./registry.ts";
export { actorContext, setActorContext } from "./context.ts";
export type { ActorContext, RestoreInfo } from "./context.ts";
