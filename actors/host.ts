/**
 * The actor host: the loop inside one actor's process. It builds the actor from a registered class, listens on
 * the actor's call subject and answers `[method, args]` frames, running at most `maxConcurrency` calls at once.
 * Bad frames, unknown methods and bad arguments are answered with typed errors and logged; the host keeps going.
 */
import { BackpressureError, BadArgumentsError, errorToWire } from "../shared/errors.ts";
import { decode } from "../shared/codec.ts";
import {
  type ActorRecord,
  type ActorReport,
  decodeCall,
  errorReply,
  okReply,
  PING_METHOD,
} from "../shared/protocol.ts";
import { subjects } from "../shared/subjects.ts";
import type { Transport, TransportMessage } from "../shared/transport.ts";
import { encode } from "../shared/codec.ts";
import { Cluster } from "./cluster.ts";
import { type RestoreInfo, setActorContext } from "./context.ts";
import { type RegisteredActor, resolveActor, resolveMethod } from "./registry.ts";

/** What the agent hands a host process on stdin. */
export interface HostSpec {
  cluster: string;
  nodeId: string;
  actor: ActorRecord;
  /** msgpack-encoded constructor arguments. */
  args: Uint8Array;
}

/** A running host; `stop()` finishes in-flight calls (up to `graceMs`) and unsubscribes. */
export interface RunningHost {
  stop(graceMs?: number): Promise<void>;
  /** Resolves when the call loop ends. */
  done: Promise<void>;
}

/** Builds the actor and serves its calls on `transport`. Publishes `ready` (or `failed`, then throws). */
export async function runActorHost(transport: Transport, spec: HostSpec): Promise<RunningHost> {
  const names = subjects(spec.cluster);
  const { actor } = spec;
  const publish = (event: ActorReport) => transport.publish(names.report(actor.id, spec.nodeId), encode(event));
  let entry: RegisteredActor;
  let instance: object;
  try {
    entry = await resolveActor(actor.className);
    const args = decode(spec.args);
    if (!Array.isArray(args)) {
      throw new BadArgumentsError(`Cannot construct "${actor.className}": args must be an array`);
    }
    setActorContext({
      actorId: actor.id,
      name: actor.name ?? undefined,
      className: actor.className,
      nodeId: spec.nodeId,
      incarnation: actor.incarnation,
      restarts: actor.restarts,
      gpuIds: actor.gpuIds ?? [],
      cluster: new Cluster(transport, { cluster: spec.cluster }),
    });
    instance = new entry.cls(...args);
    const restore = (instance as { restore?: (info: RestoreInfo) => unknown }).restore;
    if (actor.restarts > 0 && typeof restore === "function") {
      await restore.call(instance, { restarts: actor.restarts, incarnation: actor.incarnation, actorId: actor.id });
    }
  } catch (error) {
    console.error(`Actor "${actor.name ?? actor.id}" (${actor.className}) failed to start: ${(error as Error).stack}`);
    await publish({ type: "failed", actorId: actor.id, incarnation: actor.incarnation, error: errorToWire(error) });
    await transport.flush();
    throw error;
  }

  const label = `actor "${actor.name ?? actor.id}"`;
  const maxConcurrency = actor.options.maxConcurrency;
  const maxQueued = actor.options.maxPendingCalls;
  const methods = new Map<string, (...args: unknown[]) => unknown>();
  let running = 0;
  const queue: TransportMessage[] = [];
  let idle: (() => void) | undefined;

  let sending = 0;

  const sentOne = () => {
    sending--;
    if (running === 0 && sending === 0) idle?.();
  };
  const encodeResult = (value: unknown): Uint8Array => {
    try {
      return okReply(value);
    } catch (error) {
      return errorReply(error); // e.g. a result that msgpack cannot carry
    }
  };
  const finish = (message: TransportMessage, reply: Uint8Array): void => {
    running--;
    sending++;
    const sent = message.respond?.(reply) ?? Promise.resolve();
    sent.then(sentOne, async (error) => {
      // The result itself could not be sent (e.g. too large): tell the caller why instead of leaving it hanging.
      console.error(`Cannot send the reply of a call to ${label}: ${(error as Error).message}`);
      await message.respond?.(errorReply(error)).catch(() => {});
      sentOne();
    });
    const next = queue.shift();
    if (next !== undefined) run(next);
  };
  const fail = (message: TransportMessage, error: unknown): void => {
    const name = (error as Error)?.name;
    if (name === "DecodeError" || name === "BadArgumentsError" || name === "UnknownMethodError") {
      console.error(`Rejected a call to ${label}: ${name}: ${(error as Error).message}`);
    }
    finish(message, errorReply(error));
  };

  // Synchronous up to the method call: sync methods answer without any promise hop (the call latency benchmark
  // counts every microtask on this path); async ones are awaited.
  const run = (message: TransportMessage): void => {
    running++;
    let result: unknown;
    try {
      const { method, args } = decodeCall(message.data);
      if (method === PING_METHOD) {
        finish(message, okReply(Deno.pid));
        return;
      }
      let fn = methods.get(method);
      if (fn === undefined) {
        fn = resolveMethod(entry, instance, method);
        methods.set(method, fn);
      }
      const schema = entry.methods[method]?.args;
      if (schema !== undefined) {
        const parsed = schema.safeParse(args);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new BadArgumentsError(
            `Cannot call "${method}" on ${label}: argument ${issue?.path.join(".") || "list"}: ${issue?.message}`,
          );
        }
      }
      result = fn.apply(instance, args);
    } catch (error) {
      fail(message, error);
      return;
    }
    if (typeof (result as { then?: unknown } | null)?.then === "function") {
      (result as Promise<unknown>).then(
        (value) => finish(message, encodeResult(value)),
        (error) => fail(message, error),
      );
    } else {
      finish(message, encodeResult(result));
    }
  };

  const accept = (message: TransportMessage): void => {
    if (running < maxConcurrency) {
      run(message);
    } else if (maxQueued > 0 && queue.length >= maxQueued) {
      message.respond?.(errorReply(
        new BackpressureError(`Cannot queue a call on ${label}: ${queue.length} calls already waiting`),
      )).catch(() => {});
    } else {
      queue.push(message);
    }
  };
  // Synchronous delivery: a batch of calls read from the socket is answered within the same tick, so the replies
  // leave in one write (with the async iterator, each reply was flushed alone: measured 2x the server CPU).
  const subscription = transport.subscribe(names.call(actor.id, actor.incarnation), {
    onMessage: (message) => {
      try {
        accept(message);
      } catch (error) {
        console.error(`Actor host: dropped a call to ${label}: ${(error as Error).message}`);
      }
    },
  });
  const done = (async () => {
    for await (const _ of subscription) { /* messages arrive through onMessage */ }
  })();
  await transport.flush();
  await publish({ type: "ready", actorId: actor.id, incarnation: actor.incarnation, pid: Deno.pid });
  await transport.flush();

  return {
    done,
    async stop(graceMs = 5000) {
      subscription.unsubscribe();
      if (running > 0 || sending > 0 || queue.length > 0) {
        const drained = new Promise<void>((resolve) => idle = resolve);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([drained, new Promise((resolve) => timer = setTimeout(resolve, graceMs))]);
        clearTimeout(timer);
      }
    },
  };
}
