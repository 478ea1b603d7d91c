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
  /** Requests to the coordinator (spawn, kill, lookups, placement groups). */
  readonly coordinator: string;
  /** Admin requests to the coordinator (shutdown): a subject of its own so credentials can grant it apart. */
  readonly admin: string;
  /**
   * Read-only lookups (getActor), apart from `coordinator` so that credentials can let an actor find the actors it
   * calls without letting it spawn or kill.
   */
  readonly lookup: string;
  /**
   * A node's own requests to the coordinator (register, deregister). Like heartbeats and reports, the node id is in
   * the subject, the coordinator refuses a record naming another node, and per-role credentials let an agent
   * publish only under its own id: a node can speak only for itself.
   */
  node(nodeId: string): string;
  readonly nodeAll: string;
  /** One agent's heartbeats (requests, so the agent learns when the coordinator lost track of it). */
  heartbeat(nodeId: string): string;
  readonly heartbeatAll: string;
  /** Every lifecycle subject: the coordinator's `lifecycle(id)` state events and the nodes' `report`s (clients). */
  readonly lifecycleAll: string;
  /** The coordinator's authoritative state events of one actor. */
  lifecycle(actorId: string): string;
  /** What node `nodeId` reports about one of its actors (ready, failed, exited). */
  report(actorId: string, nodeId: string): string;
  readonly reportAll: string;
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
    admin: `${root}.admin`,
    lookup: `${root}.lookup`,
    node: (nodeId) => `${root}.node.${nodeId}`,
    nodeAll: `${root}.node.*`,
    heartbeat: (nodeId) => `${root}.hb.${nodeId}`,
    heartbeatAll: `${root}.hb.*`,
    lifecycleAll: `${root}.life.>`,
    lifecycle: (actorId) => `${root}.life.${actorId}`,
    report: (actorId, nodeId) => `${root}.life.${actorId}.${nodeId}`,
    reportAll: `${root}.life.*.*`,
    logsAll: `${root}.logs.*`,
    logs: (actorId) => `${root}.logs.${actorId}`,
    call: (actorId, incarnation) => `${root}.actor.${actorId}.${incarnation}`,
    agent: (nodeId) => `${root}.agent.${nodeId}`,
    stateBucket: `coop_${cluster}_state`,
    blobBucket: `coop_${cluster}_blobs`,
  };
}

/** The token at `index` of `subject` (0-based; negative counts from the end), or "" when there is none. */
export function subjectToken(subject: string, index: number): string {
  const tokens = subject.split(".");
  return tokens.at(index) ?? "";
}
