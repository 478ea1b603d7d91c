/** Subscription loops of the coordinator: request handlers that always answer, and listeners that never throw. */
import { NotFoundError } from "../shared/errors.ts";
import { errorReply, okReply } from "../shared/protocol.ts";
import type { Transport, TransportSubscription } from "../shared/transport.ts";

/** Answers every request on `subject` with `[0, value]` or `[1, error]`; handlers run concurrently. */
export function serveRequests(
  transport: Transport,
  subject: string,
  handler: (data: Uint8Array) => Promise<unknown> | unknown,
): TransportSubscription {
  const subscription = transport.subscribe(subject);
  (async () => {
    for await (const message of subscription) {
      void (async () => {
        let reply: Uint8Array;
        try {
          reply = okReply(await handler(message.data));
        } catch (error) {
          if (!(error instanceof NotFoundError)) console.error(`Coordinator: ${(error as Error).message}`);
          reply = errorReply(error);
        }
        await message.respond?.(reply).catch(() => {});
      })();
    }
  })();
  return subscription;
}

/** Feeds every message on `subject` to `handler` in order; a failing message is logged and dropped. */
export function listenTo(
  transport: Transport,
  subject: string,
  handler: (data: Uint8Array) => Promise<void> | void,
): TransportSubscription {
  const subscription = transport.subscribe(subject);
  (async () => {
    for await (const message of subscription) {
      try {
        await handler(message.data);
      } catch (error) {
        console.error(`Coordinator: dropped a message on ${message.subject}: ${(error as Error).message}`);
      }
    }
  })();
  return subscription;
}
