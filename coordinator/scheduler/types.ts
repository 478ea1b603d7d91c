/**
 * Public types of the scheduler and its persisted form (validated with zod when read back from KV).
 */

import { z } from "zod";

/** What a node offers. */
export interface NodeSpec {
  id: string;
  /** CPUs; fractional allowed. */
  cpu: number;
  /** GPU device ids (what CUDA_VISIBLE_DEVICES would list). */
  gpus?: number[];
  memoryMb?: number;
  /** Custom named quantities, e.g. `{ tpu: 4 }`. */
  resources?: Record<string, number>;
  labels?: Record<string, string>;
  /** Dead nodes keep their record but take no new work. Default true. */
  alive?: boolean;
}

/** What an actor (or a placement-group bundle) needs. Absent amounts are 0. */
export interface Demand {
  cpu?: number;
  /** GPU count; below 1 shares one device, 1 and above must be whole. */
  gpu?: number;
  memoryMb?: number;
  resources?: Record<string, number>;
  /** The node must carry every one of these labels with the same value. */
  labels?: Record<string, string>;
}

/** Placement strategies of a placement group (Ray's four). */
export type PlacementStrategy = "PACK" | "SPREAD" | "STRICT_PACK" | "STRICT_SPREAD";

/** Options for {@link Scheduler.place} and {@link Scheduler.enqueue}. */
export interface PlaceOptions {
  /** Place the actor inside this placement group's reservation. */
  placementGroup?: string;
  /** Bundle to use; absent = the first bundle with room. */
  bundleIndex?: number;
}

/** Outcome of a placement attempt. `gpuIds` is what CUDA_VISIBLE_DEVICES should list. */
export type PlaceResult =
  | { ok: true; nodeId: string; gpuIds: number[]; bundleIndex?: number }
  | { ok: false; reason: string };

/** An actor the scheduler has placed. */
export interface ActorPlacement {
  actorId: string;
  nodeId: string;
  gpuIds: number[];
  placementGroup?: string;
  bundleIndex?: number;
}

/** A placement group's state: "pending" until all bundles are reserved, "rescheduling" after losing a node. */
export type PlacementGroupState = "pending" | "created" | "rescheduling";

/** Read-only view of a placement group. */
export interface PlacementGroupView {
  id: string;
  strategy: PlacementStrategy;
  state: PlacementGroupState;
  bundles: Array<{ request: Demand; nodeId: string | null; gpuIds: number[] }>;
  /** Why it is not (fully) created; absent when created. */
  reason?: string;
}

/** Something waiting in the queue, oldest first. */
export interface PendingView {
  kind: "actor" | "placementGroup";
  id: string;
  reason: string;
}

/** Read-only view of a node's capacity and use, in user units. */
export interface NodeUsage {
  id: string;
  alive: boolean;
  labels: Record<string, string>;
  total: { cpu: number; memoryMb: number; gpus: number[]; resources: Record<string, number> };
  free: { cpu: number; memoryMb: number; gpus: number[]; resources: Record<string, number> };
  /** Actors placed on this node (including those inside bundles). */
  actors: string[];
}

/** What {@link Scheduler.retryPending} placed. */
export interface RetryResult {
  actors: ActorPlacement[];
  placementGroups: string[];
}

const REQUEST = z.object({
  cpu: z.number().optional(),
  gpu: z.number().optional(),
  memoryMb: z.number().optional(),
  resources: z.record(z.string(), z.number()).optional(),
  labels: z.record(z.string(), z.string()).optional(),
});
const ALLOCATION = z.object({
  quantities: z.record(z.string(), z.number()),
  gpus: z.array(z.tuple([z.number(), z.number()])),
});
/** Schema of {@link SchedulerJson}, for reading persisted state back. */
export const SCHEDULER_JSON = z.object({
  version: z.literal(1),
  seq: z.number().int().nonnegative(),
  nodes: z.array(z.object({
    id: z.string(),
    cpu: z.number(),
    gpus: z.array(z.number()),
    memoryMb: z.number(),
    resources: z.record(z.string(), z.number()),
    labels: z.record(z.string(), z.string()),
    alive: z.boolean(),
  })),
  actors: z.array(z.object({
    actorId: z.string(),
    request: REQUEST,
    nodeId: z.string(),
    allocation: ALLOCATION,
    group: z.object({ id: z.string(), bundleIndex: z.number().int().nonnegative() }).optional(),
  })),
  groups: z.array(z.object({
    id: z.string(),
    strategy: z.enum(["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"]),
    seq: z.number().int().nonnegative(),
    bundles: z.array(z.object({ request: REQUEST, nodeId: z.string().nullable(), reserved: ALLOCATION.nullable() })),
  })),
  pending: z.array(z.object({
    actorId: z.string(),
    request: REQUEST,
    options: z.object({ placementGroup: z.string().optional(), bundleIndex: z.number().int().optional() }),
    seq: z.number().int().nonnegative(),
  })),
});

/** Persisted form of a {@link Scheduler}. */
export interface SchedulerJson {
  version: 1;
  seq: number;
  nodes: Array<Required<NodeSpec>>;
  actors: Array<{
    actorId: string;
    request: Demand;
    nodeId: string;
    allocation: Allocation;
    group?: { id: string; bundleIndex: number };
  }>;
  groups: Array<{
    id: string;
    strategy: PlacementStrategy;
    seq: number;
    bundles: Array<{ request: Demand; nodeId: string | null; reserved: Allocation | null }>;
  }>;
  pending: Array<{ actorId: string; request: Demand; options: PlaceOptions; seq: number }>;
}

/** One actor's persisted scheduler entry: placed, or waiting in the queue. */
export type ActorEntry = { placed: SchedulerJson["actors"][number] } | { pending: SchedulerJson["pending"][number] };

/** Records changed since the last {@link Scheduler.takeChanges}; null = the record is gone. */
export interface SchedulerChanges {
  nodes: Array<[string, SchedulerJson["nodes"][number] | null]>;
  groups: Array<[string, SchedulerJson["groups"][number] | null]>;
  actors: Array<[string, ActorEntry | null]>;
}

/** Fixed-point quantities keyed by resource name ("cpu", "memoryMb", or a custom name); GPUs are kept apart. */
export type Quantities = Record<string, number>;

/** What one placement took from a pool. */
export interface Allocation {
  quantities: Quantities;
  /** [device id, units] pairs. */
  gpus: Array<[number, number]>;
}

/** A placed actor, as the scheduler keeps it. */
export interface PlacedActor {
  actorId: string;
  request: Demand;
  nodeId: string;
  allocation: Allocation;
  group?: { id: string; bundleIndex: number };
}

/** A queued actor, as the scheduler keeps it. */
export interface PendingActor {
  actorId: string;
  request: Demand;
  options: PlaceOptions;
  seq: number;
  reason: string;
}
