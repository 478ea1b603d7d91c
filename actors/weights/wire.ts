/**
 * The data plane's wire protocol, on raw TCP (measured here: Deno's HTTP server and fetch moved a 256 MiB body at
 * a quarter of a plain socket's rate, its body arriving in small chunks through JS streams). A request is one JSON
 * line; the reply is one JSON line, then exactly `bytes` raw bytes, which the client reads straight into its chunk
 * buffer. A connection carries any number of requests one after another, so each stream connects once.
 */
import { WeightPlaneError } from "./errors.ts";

/** Longest request or reply line accepted. */
export const MAX_LINE = 4096;

/** A range request for part of a segment. */
export interface RangeRequest {
  token: string;
  file: string;
  digest: string;
  start: number;
  end: number;
}

/** The reply line. */
export type RangeReply = { ok: true; bytes: number } | { ok: false; status: number; error: string };

const NEWLINE = 10;

/** Writes all of `bytes` to `conn`. */
export async function writeFully(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.byteLength;) done += await conn.write(bytes.subarray(done));
}

/** Sends one JSON line. */
export async function sendLine(conn: Deno.Conn, value: unknown): Promise<void> {
  await writeFully(conn, new TextEncoder().encode(`${JSON.stringify(value)}\n`));
}

/**
 * Reads from a connection: a line at a time, or exactly n bytes into a caller's buffer. Bytes read past a line's
 * end are kept for the next read, so a reply line and its body may share a packet.
 */
export class WireReader {
  readonly #conn: Deno.Conn;
  #pending = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** The next line as JSON, or `null` at a clean end of stream. */
  async line(): Promise<unknown> {
    const buffer = new Uint8Array(MAX_LINE);
    let have = this.#pending.byteLength;
    buffer.set(this.#pending.subarray(0, Math.min(have, MAX_LINE)));
    while (true) {
      const at = buffer.subarray(0, have).indexOf(NEWLINE);
      if (at >= 0) {
        this.#pending = buffer.slice(at + 1, have);
        try {
          return JSON.parse(new TextDecoder().decode(buffer.subarray(0, at)));
        } catch {
          throw new WeightPlaneError("Malformed data-plane message: not one JSON line");
        }
      }
      if (have >= MAX_LINE) throw new WeightPlaneError(`Data-plane message longer than ${MAX_LINE} bytes`);
      const n = await this.#conn.read(buffer.subarray(have));
      if (n === null) {
        if (have === 0) return null;
        throw new WeightPlaneError("Data-plane connection closed mid-message");
      }
      have += n;
    }
  }

  /** Fills `out` exactly, calling `onData` with the bytes filled so far after each read. */
  async fill(out: Uint8Array, onData?: (filled: number) => void): Promise<void> {
    let done = Math.min(this.#pending.byteLength, out.byteLength);
    out.set(this.#pending.subarray(0, done));
    this.#pending = this.#pending.subarray(done);
    if (done > 0) onData?.(done);
    while (done < out.byteLength) {
      const n = await this.#conn.read(out.subarray(done));
      if (n === null) {
        throw new WeightPlaneError(`Data-plane connection closed after ${done} of ${out.byteLength} bytes`);
      }
      done += n;
      onData?.(done);
    }
  }
}
