/**
 * What an actor can learn about where it runs. One actor lives in one host process, so the context is a
 * per-process value set by the host before the actor's constructor runs.
 */
import type { Cluster } from "./cluster.ts";
import { CoopError } from "../../shared/mod.ts";

/** The running actor's identity and its way back into the cluster. */
export interface ActorContext {
  actorId: string;
  name?: string;
  className: string;
  nodeId: string;
  /** Bumped on every restart (0 for the first start). */
  incarnation: number;
  restarts: number;
  gpuIds: number[];
  /** A client of the cluster this actor runs in (spawn or call other actors, read blobs). */
  cluster: Cluster;
}

/** Argument of an actor's optional `restore` hook, called after the constructor when the actor was restarted. */
export interface RestoreInfo {
  restarts: number;
  incarnation: number;
  actorId: string;
}

let current: ActorContext | undefined;

/** The context of the actor running in this process; throws outside an actor host. */
export function actorContext(): ActorContext {
  if (current === undefined) throw new CoopError("actorContext() is only available inside an actor host process");
  return current;
}

/** Sets the process's actor context (host only). */
export function setActorContext(context: ActorContext): void {
  current = context;
}
