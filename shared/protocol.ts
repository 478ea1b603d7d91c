/**
 * Message schemas between client, coordinator, node agents and actor hosts. Records are defined once in
 * records.ts (re-exported here); control messages are validated with zod (errors name the field); the call path (client -> actor host) uses a two-element array frame checked by
 * hand, because it is the hot path. Every reply is `[0, value]` or `[1, WireError]`.
 */
import { z } from "zod";
import { decode, encode } from "./codec.ts";
import { BadArgumentsError, DecodeError, errorFromWire, errorToWire, type WireError } from "./errors.ts";
import {
  actorOptionsSchema,
  idSchema,
  nodeInfoSchema,
  placementStrategySchema,
  resourceRequestSchema,
} from "./records.ts";

export * from "./records.ts";

const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, "expected bytes");
const id = idSchema;

/** The read-only request also served on `lookup` (an actor host may send it; it may not spawn or kill). */
export const lookupRequestSchema = z.object({ op: z.literal("getActor"), nameOrId: z.string().min(1).max(64) });

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
  lookupRequestSchema,
  z.object({ op: z.literal("actors") }),
  z.object({ op: z.literal("nodes") }),
  z.object({ op: z.literal("logs"), actor: id }),
  z.object({
    op: z.literal("createPlacementGroup"),
    name: id.optional(),
    strategy: placementStrategySchema,
    bundles: z.array(resourceRequestSchema).min(1).max(1024),
  }),
  z.object({ op: z.literal("removePlacementGroup"), id }),
  z.object({ op: z.literal("getPlacementGroup"), id }),
]);
/** A request to the coordinator. */
export type CoordinatorRequest = z.input<typeof coordinatorRequestSchema>;

/** Requests only the admin role may make, on `admin` (per-role credentials keep clients and agents off it). */
export const adminRequestSchema = z.discriminatedUnion("op", [z.object({ op: z.literal("shutdown") })]);
/** An admin request. */
export type AdminRequest = z.input<typeof adminRequestSchema>;

/** A node's requests about itself, on `node(nodeId)`: the record must name the node of the subject. */
export const nodeRequestSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("register"), node: nodeInfoSchema }),
  z.object({ op: z.literal("deregister"), nodeId: id }),
]);
/** A node's request about itself. */
export type NodeRequest = z.input<typeof nodeRequestSchema>;

/**
 * Throws a `BadArgumentsError` unless the node a record names is the node its subject is bound to: with per-role
 * credentials only that node may publish there, so a record naming another node is forged.
 */
export function checkSender(what: string, named: string, subjectNode: string): void {
  if (named !== subjectNode) {
    throw new BadArgumentsError(
      `Refused ${what}: it names node "${named}" but came on the subject of "${subjectNode}"`,
    );
  }
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

/**
 * A call every actor host answers with its pid, before any class method: lets a coordinator that missed a `ready`
 * report (it was down when the host came up) learn that the host serves. `$` cannot start a JS method name a
 * registered class would declare by accident.
 */
export const PING_METHOD = "$ping";

/** Longest call id a host accepts (a client nonce and a counter fit well within it). */
export const MAX_CALL_ID_LENGTH = 64;

/**
 * Encodes a call frame `[method, args]`, or `[method, args, callId]`: a host that sees a call id again (a call
 * resent after a NATS disconnect lost its reply) answers from its reply cache instead of running the call twice.
 */
export function encodeCall(method: string, args: readonly unknown[], callId?: string): Uint8Array {
  return encode(callId === undefined ? [method, args] : [method, args, callId]);
}

/** A decoded call frame. */
export interface CallFrame {
  method: string;
  args: unknown[];
  callId?: string;
}

/** Decodes a call frame, throwing `DecodeError`/`BadArgumentsError` for anything but `[string, array, id?]`. */
export function decodeCall(data: Uint8Array): CallFrame {
  let frame: unknown;
  try {
    frame = decode(data);
  } catch (error) {
    throw new DecodeError(`Cannot decode call frame: ${(error as Error).message}`);
  }
  if (!Array.isArray(frame) || frame.length < 2 || frame.length > 3 || typeof frame[0] !== "string") {
    throw new DecodeError("Cannot decode call frame: expected [method, args] or [method, args, callId]");
  }
  if (!Array.isArray(frame[1])) {
    throw new BadArgumentsError(`Cannot call "${frame[0]}": arguments must be an array`);
  }
  if (frame.length === 2) return { method: frame[0], args: frame[1] };
  const callId = frame[2];
  if (typeof callId !== "string" || callId.length === 0 || callId.length > MAX_CALL_ID_LENGTH) {
    throw new DecodeError(`Cannot decode call frame: the call id must be a string of 1-${MAX_CALL_ID_LENGTH} chars`);
  }
  return { method: frame[0], args: frame[1], callId };
}
