/**
 * NATS subject and bucket names, namespaced per cluster (`coop.<cluster>.…`) so that two clusters can share one
 * NATS server. Every process derives its names from here; nothing else spells a subject.
 */
import { ConfigError } from "./errors.ts";

// NATS tokens must not contain '.', '*', '>' or whitespace; JetStream bucket names allow only [A-Za-z0-9_-].
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws a `ConfigError` unless `value` is usable as one subject token (cluster, node or actor id). */
export function checkToken(kind: string, value: string): string {
  if (!TOKEN.test(value)) {
    throw new ConfigError(`Invalid ${kind} "${value}": use 1-64 characters from A-Z, a-z, 0-9, "_" and "-"`);
  }
  return value;
}

/** All subjects and buckets of one cluster. */
export interface Subjects {
  readonly cluster: string;
  /** Requests to the coordinator (spawn, kill, lookups, node registration). */
  readonly coordinator: string;
  /** Agents' heartbeats (requests, so the agent learns when the coordinator lost track of it). */
  readonly heartbeat: string;
  /** Actor lifecycle events from hosts, agents and the coordinator; `lifecycle(id)` for one actor. */
  readonly lifecycleAll: string;
  lifecycle(actorId: string): string;
  /** Actor log lines forwarded by agents; `logs(id)` for one actor. */
  readonly logsAll: string;
  logs(actorId: string): string;
  /**
   * Calls to one incarnation of an actor: the client sends straight to the actor host, never through the
   * coordinator. The incarnation in the subject keeps a stale host (say, on a node that was cut off and rejoins)
   * from answering calls meant for its replacement.
   */
  call(actorId: string, incarnation: number): string;
  /** Control requests to one node agent (start/stop actor processes). */
  agent(nodeId: string): string;
  /** JetStream KV bucket holding the cluster state. */
  readonly stateBucket: string;
  /** JetStream Object Store bucket for blobs (weights). */
  readonly blobBucket: string;
}

/** Subject names for `cluster`. */
export function subjects(cluster: string): Subjects {
  checkToken("cluster name", cluster);
  const root = `coop.${cluster}`;
  return {
    cluster,
    coordinator: `${root}.coord`,
    heartbeat: `${root}.hb`,
    lifecycleAll: `${root}.life.*`,
    lifecycle: (actorId) => `${root}.life.${actorId}`,
    logsAll: `${root}.logs.*`,
    logs: (actorId) => `${root}.logs.${actorId}`,
    call: (actorId, incarnation) => `${root}.actor.${actorId}.${incarnation}`,
    agent: (nodeId) => `${root}.agent.${nodeId}`,
    stateBucket: `coop_${cluster}_state`,
    blobBucket: `coop_${cluster}_blobs`,
  };
}
