/**
 * Actor logs in JetStream: a stream over the cluster's `logs.*` subjects keeps the last batches of each actor
 * (per-subject limit) with an age and size cap, so logs outlive the coordinator that collected them. Agents keep
 * publishing plain core-NATS messages; the stream captures them without any change on their side.
 */
import { decode } from "../shared/mod.ts";
import type { LogBatch, LogLine } from "../shared/mod.ts";
import type { Subjects } from "../shared/mod.ts";
import type { MessageStream, Transport } from "../shared/mod.ts";

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
  readonly #stream: MessageStream;
  readonly #subjects: Subjects;

  constructor(stream: MessageStream, names: Subjects) {
    this.#stream = stream;
    this.#subjects = names;
  }

  async read(actorId: string, limit: number): Promise<LogLine[]> {
    if (limit <= 0) return [];
    // Bounded per subject by the stream's retention; walked forward, keeping the newest `limit` lines.
    const lines: LogLine[] = [];
    for await (const message of this.#stream.read(this.#subjects.logs(actorId))) {
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
    await this.#stream.purge(this.#subjects.logs(actorId));
  }
}

/** Creates (or updates) the cluster's log stream and returns a store reading from it. */
export async function openLogStream(
  transport: Transport,
  names: Subjects,
  options: LogStreamOptions = {},
): Promise<JetStreamLogStore> {
  const stream = await transport.stream({
    name: logStreamName(names.cluster),
    subjects: [names.logsAll],
    maxMsgsPerSubject: options.batchesPerActor ?? 500,
    maxAgeMs: options.maxAgeMs ?? 7 * 24 * 3600_000,
    maxBytes: options.maxBytes ?? 256 * 1024 * 1024,
  });
  return new JetStreamLogStore(stream, names);
}
