/**
 * JetStream streams behind the {@link MessageStream} interface: acknowledged appends, per-subject reads and
 * purges. Reads walk a subject with the server's `next_by_subj` message get, which nats-server 2.9 supports (no
 * batched direct get before 2.11); each read is one round trip per stored message, fine for the hundreds to a few
 * thousand messages a run's metrics or an actor's logs hold.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type MsgRequest,
  type StreamConfig,
} from "@nats-io/jetstream";
import { ConfigError } from "./errors.ts";
import type { MessageStream, StreamMessage, StreamSpec } from "./transport.ts";

const NAME = /^[A-Za-z0-9_-]{1,200}$/;
const READ_BATCH = 1000;

/** Creates the stream or updates its subjects and retention; returns it. */
export async function openNatsStream(nc: NatsConnection, spec: StreamSpec): Promise<MessageStream> {
  if (!NAME.test(spec.name)) {
    throw new ConfigError(`Invalid stream name "${spec.name}": use A-Z, a-z, 0-9, "_" and "-"`);
  }
  const jsm = await jetstreamManager(nc);
  const config: Partial<StreamConfig> = {
    subjects: spec.subjects,
    max_msgs_per_subject: spec.maxMsgsPerSubject ?? -1,
    max_age: spec.maxAgeMs === undefined ? 0 : spec.maxAgeMs * 1_000_000,
    max_bytes: spec.maxBytes ?? -1,
    num_replicas: spec.replicas ?? 1,
  };
  const existing = await jsm.streams.info(spec.name).catch(() => null);
  if (existing === null) await jsm.streams.add({ name: spec.name, ...config });
  else await jsm.streams.update(spec.name, { ...existing.config, ...config });
  return new NatsMessageStream(spec.name, jsm, jetstream(nc));
}

class NatsMessageStream implements MessageStream {
  readonly name: string;
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;

  constructor(name: string, jsm: JetStreamManager, js: JetStreamClient) {
    this.name = name;
    this.#jsm = jsm;
    this.#js = js;
  }

  async append(subject: string, data: Uint8Array): Promise<number> {
    const ack = await this.#js.publish(subject, data, { expect: { streamName: this.name } });
    return ack.seq;
  }

  async *read(subject: string, options: { fromSeq?: number } = {}): AsyncIterable<StreamMessage> {
    // The first stored message by a direct lookup: an empty subject costs no consumer.
    const first = await this.#next(subject, options.fromSeq ?? 1);
    if (first === null) return;
    yield first;
    // The rest through an ordered consumer in batches. Its creation reports how many are pending, and each
    // message how many are still pending after it, so the read never waits on an empty fetch.
    const consumer = await this.#js.consumers.get(this.name, {
      // A string becomes `filter_subject`, which nats-server 2.9 understands (`filter_subjects` needs 2.10).
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: first.seq + 1,
      // Ephemeral: gone soon after the read, not after nats.js's default of five minutes.
      inactive_threshold: 10_000,
    });
    let pending = (await consumer.info(true)).num_pending;
    while (pending > 0) {
      const batch = await consumer.fetch({ max_messages: READ_BATCH, expires: 2000 });
      let got = 0;
      for await (const message of batch) {
        got++;
        pending = message.info.pending;
        yield { subject: message.subject, seq: message.seq, data: message.data };
        if (pending === 0) break;
      }
      if (got === 0) return;
    }
  }

  async #next(subject: string, seq: number): Promise<StreamMessage | null> {
    // The server's MSG.GET takes next_by_subj; nats.js types it for direct get only, the request is passed through.
    const query = { seq, next_by_subj: subject } as unknown as MsgRequest;
    const message = await this.#jsm.streams.getMessage(this.name, query);
    return message === null ? null : { subject: message.subject, seq: message.seq, data: message.data };
  }

  async purge(subject: string): Promise<void> {
    await this.#jsm.streams.purge(this.name, { filter: subject });
  }
}
