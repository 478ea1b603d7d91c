/**
 * Actor logs in JetStream: a stream over the cluster's `logs.*` subjects keeps the last batches of each actor
 * (per-subject limit) with an age and size cap, so logs outlive the coordinator that collected them. Agents keep
 * publishing plain core-NATS messages; the stream captures them without any change on their side.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { type JetStreamManager, jetstreamManager, type MsgRequest, type StreamConfig } from "@nats-io/jetstream";
import { decode } from "../shared/codec.ts";
import type { LogBatch, LogLine } from "../shared/protocol.ts";
import type { Subjects } from "../shared/subjects.ts";

/** Where the coordinator reads actor logs from. */
export interface ActorLogStore {
  /** The last `limit` lines of one actor, oldest first ([] for an unknown actor). */
  read(actorId: string, limit: number): Promise<LogLine[]>;
  /** Drops an actor's logs (its record is forgotten). */
  forget(actorId: string): Promise<void>;
}

/** Options for {@link openLogStream}. */
export interface LogStreamOptions {
  /** Log batches (agent messages, each one or more lines) kept per actor. Default 500. */
  batchesPerActor?: number;
  /** Logs older than this are dropped (ms). Default 7 days. */
  maxAgeMs?: number;
  /** Total size cap of the stream (bytes). Default 256 MiB. */
  maxBytes?: number;
}

/** Stream name holding a cluster's actor logs. */
export function logStreamName(cluster: string): string {
  // Stream names may not contain ".", "*", ">" or whitespace; cluster names are subject tokens already.
  return `COOP_LOGS_${cluster}`;
}

/** {@link ActorLogStore} over the cluster's log stream. */
export class JetStreamLogStore implements ActorLogStore {
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #subjects: Subjects;

  constructor(jsm: JetStreamManager, stream: string, names: Subjects) {
    this.#jsm = jsm;
    this.#stream = stream;
    this.#subjects = names;
  }

  async read(actorId: string, limit: number): Promise<LogLine[]> {
    if (limit <= 0) return [];
    const subject = this.#subjects.logs(actorId);
    // Server 2.9 has no batched or backwards get: walk the subject's messages forward (bounded per subject).
    const lines: LogLine[] = [];
    let seq = 1;
    while (true) {
      // The server's MSG.GET takes next_by_subj; nats.js types it for direct get only, the request is passed through.
      const query = { seq, next_by_subj: subject } as unknown as MsgRequest;
      const message = await this.#jsm.streams.getMessage(this.#stream, query);
      if (message === null) break;
      seq = message.seq + 1;
      try {
        const batch = decode(message.data) as LogBatch;
        if (Array.isArray(batch?.lines)) lines.push(...batch.lines);
      } catch {
        // A message that is not a log batch (e.g. a stray publish on the subject) carries no lines.
      }
      if (lines.length > 2 * limit) lines.splice(0, lines.length - limit);
    }
    return lines.slice(Math.max(0, lines.length - limit));
  }

  async forget(actorId: string): Promise<void> {
    await this.#jsm.streams.purge(this.#stream, { filter: this.#subjects.logs(actorId) });
  }
}

/** Creates (or updates) the cluster's log stream and returns a store reading from it. */
export async function openLogStream(
  nc: NatsConnection,
  names: Subjects,
  options: LogStreamOptions = {},
): Promise<JetStreamLogStore> {
  const jsm = await jetstreamManager(nc);
  const name = logStreamName(names.cluster);
  const config: Partial<StreamConfig> = {
    subjects: [names.logsAll],
    max_msgs_per_subject: options.batchesPerActor ?? 500,
    max_age: (options.maxAgeMs ?? 7 * 24 * 3600_000) * 1_000_000,
    max_bytes: options.maxBytes ?? 256 * 1024 * 1024,
  };
  const existing = await jsm.streams.info(name).catch(() => null);
  if (existing === null) await jsm.streams.add({ name, ...config });
  else await jsm.streams.update(name, { ...existing.config, ...config });
  return new JetStreamLogStore(jsm, name, names);
}
