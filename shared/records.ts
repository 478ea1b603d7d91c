/**
 * The cluster's vocabulary: every record that crosses a process boundary (resource request, actor options and
 * record, node, placement group, heartbeat, lifecycle report, log line, agent order) as one zod schema, with its
 * type inferred from it. Agents, hosts, the scheduler, the coordinator, the API and clients import these, and
 * every control message is parsed by one of them on receipt (`parseMessage` in protocol.ts), so a field means
 * the same everywhere and a forged or malformed record is refused at the boundary, naming the field.
 */
import { z } from "zod";
import type { WireError } from "./errors.ts";

/** A cluster, node, actor or group id: one NATS subject token. */
export const idSchema = z.string().regex(
  /^[A-Za-z0-9_-]{1,64}$/,
  "expected 1-64 characters from A-Z, a-z, 0-9, _ and -",
);
const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, "expected bytes");
const nonNegative = z.number().finite().nonnegative();
const count = z.number().int().nonnegative();
const time = z.number().finite();

/**
 * msgpack carries `undefined` as nil, so an absent optional field arrives as `null`: accept both, yield undefined.
 */
function optional<T extends z.ZodType>(schema: T) {
  return schema.nullish().transform((value) => value ?? undefined).optional();
}

/** Resources an actor asks for; any other key is a custom resource (e.g. `{ cpu: 1, tpu: 2 }`). */
export const resourceRequestSchema = z.object({
  cpu: nonNegative.optional(),
  gpu: count.optional(),
  memoryMb: nonNegative.optional(),
}).catchall(nonNegative);
/** Resources an actor asks for. */
export type ResourceRequest = z.infer<typeof resourceRequestSchema>;

/** Placement group strategies (Ray semantics). */
export const placementStrategySchema = z.enum(["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"]);
/** Placement group strategy. */
export type PlacementStrategy = z.infer<typeof placementStrategySchema>;

/**
 * Calls an actor queues (host side) and a client keeps in flight per actor (caller side) unless the spawn says
 * otherwise; -1 lifts the bound. Bounded by default so a flood of calls costs a BackpressureError, not the host.
 */
export const DEFAULT_MAX_PENDING_CALLS = 1024;

/** Options of an actor, as stored in its record. */
export const actorOptionsSchema = z.object({
  resources: resourceRequestSchema.default({ cpu: 1 }),
  /** Node labels the host must carry (all must match). */
  labels: optional(z.record(z.string().max(256), z.string().max(256))),
  maxRestarts: z.number().int().min(-1).default(0),
  maxConcurrency: z.number().int().positive().default(1),
  maxPendingCalls: z.number().int().min(-1).default(DEFAULT_MAX_PENDING_CALLS),
  maxTaskRetries: z.number().int().min(-1).default(0),
  placementGroup: optional(idSchema),
  bundleIndex: optional(count),
  /**
   * Under per-actor NATS credentials (actors/actor_creds.ts): the actor ids this actor may call (the handles it is
   * given). Without per-actor credentials, nothing.
   */
  calls: optional(z.array(idSchema).max(64)),
  /** Under per-actor credentials: may write blobs and weight records (learners publish weights); else read-only. */
  blobWrite: optional(z.boolean()),
}).strict();
/** Options of an actor, as stored in its record. */
export type ActorOptions = z.infer<typeof actorOptionsSchema>;

/** An error as it crosses the wire (see errors.ts `errorToWire`). */
export const wireErrorSchema: z.ZodType<WireError> = z.lazy(() =>
  z.object({
    name: z.string().max(200),
    message: z.string().max(64 * 1024),
    stack: optional(z.string().max(64 * 1024)),
    cause: optional(wireErrorSchema),
    data: optional(z.record(z.string(), z.unknown())),
  })
) as z.ZodType<WireError>;

/** Where an actor is in its life. */
export const ACTOR_STATES = ["pending", "starting", "alive", "restarting", "stopping", "dead"] as const;
/** Where an actor is in its life. */
export type ActorState = typeof ACTOR_STATES[number];

/** The coordinator's record of one actor (persisted in KV; sent to clients and agents). */
export const actorRecordSchema = z.object({
  id: idSchema,
  name: optional(idSchema),
  className: z.string().min(1).max(200),
  state: z.enum(ACTOR_STATES),
  options: actorOptionsSchema,
  /** Methods declared idempotent, retried up to `maxTaskRetries` times when the actor dies mid-call. */
  idempotent: z.array(z.string().max(200)).max(1000),
  nodeId: optional(idSchema),
  gpuIds: optional(z.array(count).max(1024)),
  pid: optional(count),
  /** Bumped on every (re)start; events from older incarnations are ignored. */
  incarnation: count,
  restarts: count,
  pendingReason: optional(z.string().max(4096)),
  deathReason: optional(wireErrorSchema),
  createdAt: time,
  updatedAt: time,
});
/** The coordinator's record of one actor. */
export type ActorRecord = z.infer<typeof actorRecordSchema>;

/** What a node is and has: shared by its registration and the coordinator's record of it. */
const nodeShape = {
  id: idSchema,
  hostname: z.string().max(255),
  cpus: nonNegative,
  gpuIds: z.array(count).max(1024),
  memoryMb: nonNegative,
  custom: z.record(z.string().max(64), nonNegative),
  labels: z.record(z.string().max(256), z.string().max(256)),
};

/** The coordinator's record of one node agent. */
export const nodeRecordSchema = z.object({
  ...nodeShape,
  state: z.enum(["alive", "dead"]),
  lastHeartbeat: time,
  joinedAt: time,
});
/** The coordinator's record of one node agent. */
export type NodeRecord = z.infer<typeof nodeRecordSchema>;

/** A placement group's record. */
export const placementGroupRecordSchema = z.object({
  id: idSchema,
  name: optional(idSchema),
  strategy: placementStrategySchema,
  bundles: z.array(resourceRequestSchema).min(1).max(1024),
  /** Node of each bundle once placed ("" for a bundle not placed yet). */
  nodes: optional(z.array(z.union([idSchema, z.literal("")])).max(1024)),
  state: z.enum(["pending", "created", "removed"]),
  pendingReason: optional(z.string().max(4096)),
});
/** A placement group's record. */
export type PlacementGroupRecord = z.infer<typeof placementGroupRecordSchema>;

/** One process an agent runs: which actor, which incarnation. */
const runningActorsSchema = z.array(z.object({ id: idSchema, incarnation: count })).max(100_000);

/** What an agent tells the coordinator when it registers. */
export const nodeInfoSchema = z.object({
  ...nodeShape,
  /** Actors the agent runs right now (after a coordinator restart it re-announces them). */
  actors: runningActorsSchema,
  /** The highest leader epoch the agent has seen: a new leader must order above it (it may start lower after the
   * JetStream state was lost, since its epoch comes from the lease key's revision). */
  epoch: optional(count),
  /** The records of the actors it runs, as their start orders gave them: a coordinator whose state was lost
   * rebuilds its registry from these instead of having the agent kill every actor. */
  records: optional(z.array(actorRecordSchema).max(10_000)),
});
/** What an agent tells the coordinator when it registers. */
export type NodeInfo = z.infer<typeof nodeInfoSchema>;

/** A heartbeat: an agent's liveness plus the actor processes it runs. Sent on `heartbeat(nodeId)`. */
export const heartbeatSchema = z.object({ nodeId: idSchema, actors: runningActorsSchema, epoch: optional(count) });
/** A heartbeat message. */
export type Heartbeat = z.infer<typeof heartbeatSchema>;

/** What the coordinator answers to a registration: the reported actors to keep, and its fencing epoch. */
export interface RegisterReply {
  keep: string[];
  epoch: number;
}

/** What the coordinator answers to a heartbeat. */
export interface HeartbeatReply {
  /** False when the coordinator does not know the node (it restarted, or declared the node dead): re-register. */
  known: boolean;
  /** The leader's fencing epoch: the agent refuses orders from lower epochs from then on. */
  epoch?: number;
}

/**
 * What a node reports about one of its actors, on `report(actorId, nodeId)`: the host is up (`ready`), could not
 * build or restore the actor (`failed`), or the agent saw its process exit (`exited`).
 */
export const actorReportSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready"), actorId: idSchema, incarnation: count, pid: count }),
  z.object({ type: z.literal("failed"), actorId: idSchema, incarnation: count, error: wireErrorSchema }),
  z.object({
    type: z.literal("exited"),
    actorId: idSchema,
    incarnation: count,
    code: z.number().int(),
    signal: optional(z.string().max(32)),
    nodeId: idSchema,
  }),
]);
/** What a node reports about one of its actors. */
export type ActorReport = z.infer<typeof actorReportSchema>;

/** Lifecycle events clients see: node reports, and the coordinator's authoritative record (`state`). */
export const lifecycleEventSchema = z.union([
  actorReportSchema,
  z.object({ type: z.literal("state"), actor: actorRecordSchema }),
]);
/** A lifecycle event. */
export type LifecycleEvent = z.infer<typeof lifecycleEventSchema>;

/** One log line from an actor's stdout or stderr (`ts`: Unix ms). */
export const logLineSchema = z.object({
  ts: time,
  stream: z.enum(["stdout", "stderr"]),
  line: z.string().max(16 * 1024),
});
/** One log line from an actor's stdout or stderr. */
export type LogLine = z.infer<typeof logLineSchema>;

/** Forwarded log lines of one actor, on `logs(actorId)`. */
export const logBatchSchema = z.object({ actorId: idSchema, lines: z.array(logLineSchema).max(10_000) });
/** Forwarded log lines of one actor. */
export type LogBatch = z.infer<typeof logBatchSchema>;

/** The leader's fencing epoch an order carries (coordinator/lease.ts); 0 for a coordinator without a lease. */
const epoch = count.default(0);

/** Orders from the coordinator to one agent, on `agent(nodeId)`. */
export const agentOrderSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("start"), actor: actorRecordSchema, args: bytes, epoch }),
  z.object({ op: z.literal("stop"), actor: idSchema, incarnation: count, graceful: z.boolean(), epoch }),
  z.object({ op: z.literal("exit"), epoch }),
]);
/** An order to an agent. */
export type AgentOrder = z.input<typeof agentOrderSchema>;
