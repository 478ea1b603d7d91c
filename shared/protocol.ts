/**
 * Message schemas between client, coordinator, node agents and actor hosts. Control messages are validated with
 * zod (errors name the field); the call path (client -> actor host) uses a two-element array frame checked by
 * hand, because it is the hot path. Every reply is `[0, value]` or `[1, WireError]`.
 */
import { z } from "zod";
import { decode, encode } from "./codec.ts";
import { BadArgumentsError, DecodeError, errorFromWire, errorToWire, type WireError } from "./errors.ts";

const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, "expected bytes");
const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 characters from A-Z, a-z, 0-9, _ and -");
const nonNegative = z.number().finite().nonnegative();

/** Resources an actor asks for; any other key is a custom resource (e.g. `{ cpu: 1, tpu: 2 }`). */
export const resourceRequestSchema = z.object({
  cpu: nonNegative.optional(),
  gpu: z.number().int().nonnegative().optional(),
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
  labels: z.record(z.string(), z.string()).optional(),
  maxRestarts: z.number().int().min(-1).default(0),
  maxConcurrency: z.number().int().positive().default(1),
  maxPendingCalls: z.number().int().min(-1).default(DEFAULT_MAX_PENDING_CALLS),
  maxTaskRetries: z.number().int().min(-1).default(0),
  placementGroup: id.optional(),
  bundleIndex: z.number().int().nonnegative().optional(),
}).strict();
/** Options of an actor, as stored in its record. */
export type ActorOptions = z.infer<typeof actorOptionsSchema>;

/** Where an actor is in its life. */
export type ActorState = "pending" | "starting" | "alive" | "restarting" | "stopping" | "dead";

/** The coordinator's record of one actor (persisted in KV; sent to clients and agents). */
export interface ActorRecord {
  id: string;
  name?: string;
  className: string;
  state: ActorState;
  options: ActorOptions;
  /** Methods declared idempotent, retried up to `maxTaskRetries` times when the actor dies mid-call. */
  idempotent: string[];
  nodeId?: string;
  gpuIds?: number[];
  pid?: number;
  /** Bumped on every (re)start; events from older incarnations are ignored. */
  incarnation: number;
  restarts: number;
  pendingReason?: string;
  deathReason?: WireError;
  createdAt: number;
  updatedAt: number;
}

/** The coordinator's record of one node agent. */
export interface NodeRecord {
  id: string;
  hostname: string;
  cpus: number;
  gpuIds: number[];
  memoryMb: number;
  custom: Record<string, number>;
  labels: Record<string, string>;
  state: "alive" | "dead";
  lastHeartbeat: number;
  joinedAt: number;
}

/** A placement group's record. */
export interface PlacementGroupRecord {
  id: string;
  name?: string;
  strategy: PlacementStrategy;
  bundles: ResourceRequest[];
  /** Node of each bundle, once placed. */
  nodes?: string[];
  state: "pending" | "created" | "removed";
  pendingReason?: string;
}

const nodeInfoSchema = z.object({
  id,
  hostname: z.string().max(255),
  cpus: nonNegative,
  gpuIds: z.array(z.number().int().nonnegative()),
  memoryMb: nonNegative,
  custom: z.record(z.string(), nonNegative),
  labels: z.record(z.string(), z.string()),
  /** Actors the agent runs right now (after a coordinator restart it re-announces them). */
  actors: z.array(z.object({ id, incarnation: z.number().int() })),
});
/** What an agent tells the coordinator when it registers. */
export type NodeInfo = z.infer<typeof nodeInfoSchema>;

/** Requests to the coordinator. */
export const coordinatorRequestSchema = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("spawn"),
    className: z.string().min(1).max(200),
    name: id.optional(),
    options: actorOptionsSchema,
    idempotent: z.array(z.string()).default([]),
    args: bytes,
  }),
  z.object({ op: z.literal("kill"), actor: id, graceful: z.boolean().default(true) }),
  z.object({ op: z.literal("getActor"), nameOrId: z.string().min(1).max(64) }),
  z.object({ op: z.literal("actors") }),
  z.object({ op: z.literal("nodes") }),
  z.object({ op: z.literal("logs"), actor: id }),
  z.object({ op: z.literal("register"), node: nodeInfoSchema }),
  z.object({ op: z.literal("deregister"), nodeId: id }),
  z.object({
    op: z.literal("createPlacementGroup"),
    name: id.optional(),
    strategy: placementStrategySchema,
    bundles: z.array(resourceRequestSchema).min(1).max(1024),
  }),
  z.object({ op: z.literal("removePlacementGroup"), id }),
  z.object({ op: z.literal("getPlacementGroup"), id }),
  z.object({ op: z.literal("shutdown") }),
]);
/** A request to the coordinator. */
export type CoordinatorRequest = z.input<typeof coordinatorRequestSchema>;

/** A heartbeat: an agent's liveness plus the actor processes it runs. */
export const heartbeatSchema = z.object({
  nodeId: id,
  actors: z.array(z.object({ id, incarnation: z.number().int() })),
});
/** A heartbeat message. */
export type Heartbeat = z.infer<typeof heartbeatSchema>;

/** What the coordinator answers to a heartbeat. */
export interface HeartbeatReply {
  /** False when the coordinator does not know the node (it restarted, or declared the node dead): re-register. */
  known: boolean;
}

/** Requests from the coordinator to an agent. */
export const agentRequestSchema = z.discriminatedUnion("op", [
  z.object({
    op: z.literal("start"),
    actor: z.custom<ActorRecord>((value) => typeof value === "object" && value !== null, "expected an actor record"),
    args: bytes,
  }),
  z.object({ op: z.literal("stop"), actor: id, incarnation: z.number().int(), graceful: z.boolean() }),
  z.object({ op: z.literal("exit") }),
]);
/** A request to an agent. */
export type AgentRequest = z.input<typeof agentRequestSchema>;

/** Lifecycle events, published on `lifecycle(actorId)`. */
export type LifecycleEvent =
  /** The host constructed the actor and listens for calls. */
  | { type: "ready"; actorId: string; incarnation: number; pid: number }
  /** The host could not construct/restore the actor. */
  | { type: "failed"; actorId: string; incarnation: number; error: WireError }
  /** The agent saw the host process exit. */
  | { type: "exited"; actorId: string; incarnation: number; code: number; signal?: string; nodeId: string }
  /** The coordinator changed the record (authoritative state for clients). */
  | { type: "state"; actor: ActorRecord };

/** Forwarded log lines of one actor. */
export interface LogBatch {
  actorId: string;
  lines: LogLine[];
}

/** One log line from an actor's stdout or stderr. */
export interface LogLine {
  time: number;
  stream: "stdout" | "stderr";
  line: string;
}

/** Decodes and validates a control message, naming the offending field on failure. */
export function parseMessage<S extends z.ZodType>(schema: S, data: Uint8Array, what: string): z.output<S> {
  let value: unknown;
  try {
    value = decode(data);
  } catch (error) {
    throw new DecodeError(`Cannot decode ${what}: ${(error as Error).message}`);
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.length ? issue.path.join(".") : "(root)";
    throw new BadArgumentsError(`Invalid ${what}: ${path}: ${issue?.message ?? "invalid"}`);
  }
  return result.data;
}

/** Encodes a successful reply. */
export function okReply(value: unknown): Uint8Array {
  return encode([0, value]);
}

/** Encodes an error reply. */
export function errorReply(error: unknown): Uint8Array {
  return encode([1, errorToWire(error)]);
}

/** Decodes a reply: returns the value or throws the (rebuilt) remote error. */
export function readReply(data: Uint8Array, what: string): unknown {
  let frame: unknown;
  try {
    frame = decode(data);
  } catch (error) {
    throw new DecodeError(`Cannot decode the reply of ${what}: ${(error as Error).message}`);
  }
  if (!Array.isArray(frame) || frame.length !== 2 || (frame[0] !== 0 && frame[0] !== 1)) {
    throw new DecodeError(`Cannot decode the reply of ${what}: expected [status, value]`);
  }
  if (frame[0] === 0) return frame[1];
  throw errorFromWire(frame[1] as WireError);
}

/** Encodes a call frame `[method, args]`. */
export function encodeCall(method: string, args: readonly unknown[]): Uint8Array {
  return encode([method, args]);
}

/** Decodes a call frame, throwing `DecodeError`/`BadArgumentsError` for anything that is not `[string, array]`. */
export function decodeCall(data: Uint8Array): { method: string; args: unknown[] } {
  let frame: unknown;
  try {
    frame = decode(data);
  } catch (error) {
    throw new DecodeError(`Cannot decode call frame: ${(error as Error).message}`);
  }
  if (!Array.isArray(frame) || frame.length !== 2 || typeof frame[0] !== "string") {
    throw new DecodeError("Cannot decode call frame: expected [method, args]");
  }
  if (!Array.isArray(frame[1])) {
    throw new BadArgumentsError(`Cannot call "${frame[0]}": arguments must be an array`);
  }
  return { method: frame[0], args: frame[1] };
}
