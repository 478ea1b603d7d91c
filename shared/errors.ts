/**
 * Typed errors that survive the wire (nats.js `errors.ts` style): every Coop error sets `name`, `errorToWire`
 * turns any thrown value into a plain record, and `errorFromWire` rebuilds the matching class on the caller's side,
 * keeping the remote stack and the cause chain.
 */
import * as errorsModule from "./errors.ts";

/** Plain-data form of an error, safe to msgpack-encode. */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  cause?: WireError;
  /** Extra structured fields (e.g. `remoteName`) that a class wants to carry across. */
  data?: Record<string, unknown>;
}

/** Base of every Coop error. */
export class CoopError extends Error {
  override name = "CoopError";
  /** Stack trace captured in the remote process, when the error was rebuilt from the wire. */
  remoteStack?: string;
}

/** The target actor is dead (process exited, killed, or out of restarts). */
export class ActorDiedError extends CoopError {
  override name = "ActorDiedError";
}

/** Options for {@link ActorCallError}. */
export interface ActorCallErrorOptions {
  /** Class name of the error raised in the remote process. */
  remoteName: string;
  /** Stack trace from the remote process. */
  remoteStack?: string;
  cause?: unknown;
}

/** A remote method threw an error of a class this process does not know; carries the remote class name. */
export class ActorCallError extends CoopError {
  override name = "ActorCallError";
  readonly remoteName: string;

  constructor(message: string, options: ActorCallErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.remoteName = options.remoteName;
    this.remoteStack = options.remoteStack;
  }
}

/** A call or request did not get an answer in time. */
export class CallTimeoutError extends CoopError {
  override name = "CallTimeoutError";
}

/**
 * The connection to NATS dropped (or the server restarted) while a request was in flight, so its reply may have
 * been lost. Retriable: nothing is known about whether the receiver acted on it, so resend only what is safe to
 * resend (actor calls are: a host answers a resent call id from its reply cache instead of running it twice).
 */
export class ConnectionLostError extends CoopError {
  override name = "ConnectionLostError";
  /** Always true: a marker for callers that retry on it. */
  readonly retriable = true;
}

/** Too many calls are pending on an actor (`maxPendingCalls`). */
export class BackpressureError extends CoopError {
  override name = "BackpressureError";
}

/** A message named an actor class that is not registered. */
export class UnknownActorClassError extends CoopError {
  override name = "UnknownActorClassError";
}

/** A message named a method the actor class does not have. */
export class UnknownMethodError extends CoopError {
  override name = "UnknownMethodError";
}

/** Call arguments have the wrong shape or types. */
export class BadArgumentsError extends CoopError {
  override name = "BadArgumentsError";
}

/** A frame could not be decoded (malformed, truncated, inconsistent). */
export class DecodeError extends CoopError {
  override name = "DecodeError";
}

/** A message exceeds the transport's `maxMessageBytes`. */
export class MessageTooLargeError extends CoopError {
  override name = "MessageTooLargeError";
}

/** Nobody is subscribed to the requested subject. */
export class NoRespondersError extends CoopError {
  override name = "NoRespondersError";
}

/** No node can host an actor or bundle. */
export class PlacementError extends CoopError {
  override name = "PlacementError";
}

/** One problem in a config: the field's dotted path ("" for the whole document) and what is wrong with it. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** Options for {@link ConfigError}. */
export interface ConfigErrorOptions {
  cause?: unknown;
  /** Every problem found, structured (a run config reports them all at once). */
  issues?: ConfigIssue[];
}

/** Configuration (options, environment variables, a run config) is invalid. */
export class ConfigError extends CoopError {
  override name = "ConfigError";
  /** The problems found; a single one built from the message when the thrower gave none. */
  readonly issues: ConfigIssue[];

  constructor(message: string, options: ConfigErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.issues = options.issues ?? [{ path: "", message }];
  }
}

/** A blob's content does not match its recorded digest. */
export class BlobIntegrityError extends CoopError {
  override name = "BlobIntegrityError";
}

/** The caller gave up on the operation (its AbortSignal fired), e.g. a spawn still waiting for placement. */
export class CancelledError extends CoopError {
  override name = "CancelledError";
}

/** A named thing (actor, blob, key, node) does not exist. */
export class NotFoundError extends CoopError {
  override name = "NotFoundError";
}

type ErrorClass = new (message: string) => CoopError;

// The classes errorFromWire rebuilds by name: every CoopError class exported here, read from this module's own
// namespace so a new class cannot be forgotten. ActorCallError is left out: it needs `remoteName` and is rebuilt
// separately. Built on first use, since the namespace is complete only after this module has been evaluated.
let known: ReadonlyMap<string, ErrorClass> | undefined;

function knownClasses(): ReadonlyMap<string, ErrorClass> {
  known ??= new Map(
    (Object.values(errorsModule) as unknown[])
      .filter((value): value is ErrorClass =>
        typeof value === "function" && (value === CoopError || value.prototype instanceof CoopError) &&
        value !== ActorCallError
      )
      .map((cls) => [cls.name, cls]),
  );
  return known;
}

// Guards against cyclic or absurdly deep cause chains (a cause can point back at its error).
const MAX_CAUSE_DEPTH = 8;

/** Turns any thrown value into a {@link WireError}, following `cause` up to a fixed depth. */
export function errorToWire(error: unknown): WireError {
  return toWire(error, 0);
}

function toWire(error: unknown, depth: number): WireError {
  if (!(error instanceof Error)) {
    return { name: "Error", message: describeNonError(error) };
  }
  const wire: WireError = { name: error.name || "Error", message: String(error.message) };
  if (typeof error.stack === "string") wire.stack = error.stack;
  if (error instanceof ActorCallError) {
    // Re-raising a remote error further keeps the original class name and stack.
    wire.data = { remoteName: error.remoteName };
    if (error.remoteStack !== undefined) wire.stack = error.remoteStack;
  } else if (error instanceof CoopError && error.remoteStack !== undefined) {
    wire.stack = error.remoteStack;
  }
  if (error.cause !== undefined && depth < MAX_CAUSE_DEPTH) wire.cause = toWire(error.cause, depth + 1);
  return wire;
}

function describeNonError(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return `Non-Error value thrown: ${JSON.stringify(value) ?? String(value)}`;
  } catch {
    return `Non-Error value thrown: ${String(value)}`;
  }
}

/**
 * Rebuilds an error from its wire form: known Coop classes by name, anything else as an {@link ActorCallError}
 * whose `remoteName` is the remote class name. The remote stack is kept in `remoteStack` (and appended to `stack`).
 */
export function errorFromWire(wire: WireError): Error {
  return fromWire(wire, 0);
}

function fromWire(wire: WireError, depth: number): Error {
  const name = typeof wire?.name === "string" ? wire.name : "Error";
  const message = typeof wire?.message === "string" ? wire.message : "";
  const remoteStack = typeof wire?.stack === "string" ? wire.stack : undefined;
  const cause = wire?.cause !== undefined && wire.cause !== null && depth < MAX_CAUSE_DEPTH
    ? fromWire(wire.cause, depth + 1)
    : undefined;
  const cls = knownClasses().get(name);
  let error: CoopError;
  if (cls !== undefined) {
    error = new cls(message);
    if (cause !== undefined) error.cause = cause;
    error.remoteStack = remoteStack;
  } else {
    const remoteName = name === "ActorCallError" && typeof wire.data?.remoteName === "string"
      ? wire.data.remoteName
      : name;
    error = new ActorCallError(message, { remoteName, remoteStack, cause });
  }
  if (remoteStack !== undefined) error.stack = `${error.stack}\n    --- remote ---\n${remoteStack}`;
  return error;
}
