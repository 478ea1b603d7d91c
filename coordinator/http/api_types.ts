/** The views the control API serves (and the status table prints): nodes, actors, the cluster snapshot, logs. */
import type { ActorState as RecordState, LogLine } from "../../shared/mod.ts";
import type { Demand, PendingView, PlacementGroupView } from "../scheduler/mod.ts";

/** Capacity numbers of a node, in user units. */
export interface NodeResources {
  cpu: number;
  memoryMb: number;
  /** GPU device ids (for `free`: whole devices not in use). */
  gpus: number[];
  resources: Record<string, number>;
}

/** A node as the API and the status table show it. */
export interface NodeView {
  id: string;
  /** Host name or address the agent reported. */
  address?: string;
  alive: boolean;
  labels: Record<string, string>;
  total: NodeResources;
  free: NodeResources;
  /** Ids of actors placed on the node. */
  actors: string[];
  /** Unix ms of the last heartbeat, when known. */
  lastHeartbeatMs?: number;
}

/** Lifecycle states of an actor. */
// The record's states (shared/records.ts) without "stopping": the process still runs until its exit is seen.
export const ACTOR_STATES = [
  "pending",
  "starting",
  "alive",
  "restarting",
  "dead",
] as const satisfies readonly RecordState[];

/** One of {@link ACTOR_STATES}. */
export type ActorState = typeof ACTOR_STATES[number];

/** An actor as the API and the status table show it. */
export interface ActorView {
  id: string;
  /** Name given at spawn, for `getActor`. */
  name?: string;
  /** Registered actor class name. */
  className: string;
  /** Node it runs on; null while pending. */
  nodeId: string | null;
  state: ActorState;
  restarts: number;
  maxRestarts?: number;
  /** Why it is pending (scheduler's reason). */
  pendingReason?: string;
  resources?: Demand;
  gpuIds?: number[];
  placementGroup?: string;
  /** Last error (e.g. why it died). */
  error?: string;
}

/** Who serves the API. */
export interface CoordinatorInfo {
  id: string;
  version?: string;
  /** ISO time the coordinator started. */
  startedAt: string;
  natsUrl?: string;
}

/** Everything `GET /v1/cluster` returns (plus a computed summary). */
export interface ClusterSnapshot {
  coordinator: CoordinatorInfo;
  nodes: NodeView[];
  actors: ActorView[];
  pending: PendingView[];
  placementGroups: PlacementGroupView[];
}

/** One line an actor process wrote (the wire record, shared/records.ts). */
export type { LogLine };
