/**
 * Subscription loops of the coordinator and the node agents: request handlers that always answer (`[0, value]` or
 * `[1, error]`), and listeners that never throw. Handlers get the subject too: on wildcard subscriptions its tokens
 * say who may have sent the message (e.g. the node id of a heartbeat).
 */
import { errorReply, okReply } from "./protocol.ts";
import type { Transport, TransportSubscription } from "./transport.ts";
import { createLogger } from "./log.ts";

/** Options for {@link serveRequests}. */
export interface ServeOptions {
  /** Called with each error a handler threw, before it is sent back (for logging). */
  onError?: (error: unknown) => void;
}

/**
 * Answers every request on `subject` with `[0, value]` or `[1, error]`. Handlers are called in arrival order (a
 * synchronous one finishes before the next starts); asynchronous ones then run concurrently.
 */
export function serveRequests(
  transport: Transport,
  subject: string,
  handler: (data: Uint8Array, subject: string) => Promise<unknown> | unknown,
  options: ServeOptions = {},
): TransportSubscription {
  const subscription = transport.subscribe(subject);
  (async () => {
    for await (const message of subscription) {
      void (async () => {
        let reply: Uint8Array;
        try {
          reply = okReply(await handler(message.data, message.subject));
        } catch (error) {
          options.onError?.(error);
          reply = errorReply(error);
        }
        await message.respond?.(reply).catch(() => {});
      })();
    }
  })();
  return subscription;
}

/** Feeds every message on `subject` to `handler` in order; a failing message is logged (as `who`) and dropped. */
export function listenTo(
  transport: Transport,
  subject: string,
  handler: (data: Uint8Array, subject: string) => Promise<void> | void,
  who: string,
): TransportSubscription {
  const subscription = transport.subscribe(subject);
  const log = createLogger({ component: who });
  (async () => {
    for await (const message of subscription) {
      try {
        await handler(message.data, message.subject);
      } catch (error) {
        log.warn(`dropped a message on ${message.subject}: ${(error as Error).message}`);
      }
    }
  })();
  return subscription;
}
