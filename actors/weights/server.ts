/**
 * The data plane's server: serves the complete weight segments of one directory over TCP (`wire.ts`), by file
 * name and digest, in byte ranges, to holders of the plane's token. Nothing else is reachable: the name must be a
 * segment file name (no separators, no `..`), the segment must be complete (its sidecar exists) and hold exactly
 * the digest asked for. The token travels only in the version's control record in the cluster's NATS KV, so reading
 * weights off the data plane takes the same NATS rights as reading the record.
 */
import { timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import { WeightPlaneError } from "./errors.ts";
import { mapOrRead, releaseMapping } from "./local.ts";
import { parseSegmentFile, readSidecar } from "./segment.ts";
import { type RangeReply, type RangeRequest, sendLine, WireReader, writeFully } from "./wire.ts";

/** Options for {@link startWeightServer}. */
export interface WeightServerOptions {
  dir: string;
  token: string;
  /** Address to bind (default 127.0.0.1: other hosts need an explicit address, like the control API). */
  hostname?: string;
  /** Port (default 0: any free one). */
  port?: number;
  /** Host name or address consumers should use in the advertised URL (default: the bound hostname). */
  advertise?: string;
}

/** A running server. */
export interface WeightServer {
  /** Where consumers connect, e.g. `tcp://10.0.0.2:41234`. */
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts serving `dir`. */
export function startWeightServer(options: WeightServerOptions): WeightServer {
  if (options.token.length < 16) throw new WeightPlaneError("The weight server needs a token of 16+ characters");
  const listener = Deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: options.port ?? 0 });
  const conns = new Map<Deno.Conn, Promise<void>>();
  const maps = new Maps();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.set(
        conn,
        serveConn(conn, options, maps).catch(() => {}).finally(() => {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* closed */ }
        }),
      );
    }
  })().catch(() => {});
  const address = listener.addr as Deno.NetAddr;
  return {
    url: `tcp://${options.advertise ?? address.hostname}:${address.port}`,
    async stop() {
      // Idempotent: a test or a shutting-down agent may stop it twice.
      try {
        listener.close();
      } catch { /* closed */ }
      for (const conn of conns.keys()) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      await serving;
      // Every connection has stopped writing: the mappings can go now rather than at garbage collection.
      await Promise.all(conns.values());
      maps.releaseAll();
    },
  };
}

async function serveConn(conn: Deno.Conn, options: WeightServerOptions, maps: Maps): Promise<void> {
  const reader = new WireReader(conn);
  const expected = new TextEncoder().encode(options.token);
  while (true) {
    const request = await reader.line() as Partial<RangeRequest> | null;
    if (request === null) return;
    const reply = check(request, expected, options.dir);
    if (!reply.ok) {
      await sendLine(conn, reply);
      // A refused token ends the connection: no second guess on the same socket.
      if (reply.status === 401) return;
      continue;
    }
    const data = maps.acquire(reply.path, reply.bytes);
    try {
      const [start, end] = [request.start!, Math.min(request.end!, data.byteLength)];
      await sendLine(conn, { ok: true, bytes: end - start } satisfies RangeReply);
      await writeFully(conn, data.subarray(start, end));
    } finally {
      maps.done(reply.path, data);
    }
  }
}

function check(
  request: Partial<RangeRequest>,
  token: Uint8Array,
  dir: string,
): (RangeReply & { ok: false }) | { ok: true; path: string; bytes: number } {
  const given = new TextEncoder().encode(typeof request.token === "string" ? request.token : "");
  if (given.byteLength !== token.byteLength || !timingSafeEqual(given, token)) {
    return { ok: false, status: 401, error: "unauthorized" };
  }
  if (typeof request.file !== "string" || parseSegmentFile(request.file) === undefined) {
    return { ok: false, status: 404, error: "not a weight segment" };
  }
  const path = join(dir, request.file);
  const info = readSidecar(path);
  if (info === undefined || info.digest !== request.digest) return { ok: false, status: 404, error: "no such segment" };
  const { start, end } = request;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start! < 0 || end! <= start! || end! > info.bytes) {
    return { ok: false, status: 416, error: `bad range ${start}-${end} of ${info.bytes} bytes` };
  }
  return { ok: true, path, bytes: info.bytes };
}

/**
 * The segments' bytes, mapped once per file version and shared by the connections reading them. A mapping whose
 * file was retired or replaced is unmapped as soon as no connection is writing from it (the collector does not
 * count mapped bytes, so leaving it to garbage collection could hold a retired version's pages for long).
 */
class Maps {
  readonly #entries = new Map<string, { data: Uint8Array; mtime: number; users: number }>();
  readonly #stale = new Map<Uint8Array, number>();

  acquire(path: string, bytes: number): Uint8Array {
    const mtime = Deno.statSync(path).mtime?.getTime() ?? 0;
    let entry = this.#entries.get(path);
    if (entry === undefined || entry.mtime !== mtime) {
      if (entry !== undefined) this.#retire(path, entry);
      for (const [other, e] of this.#entries) if (!exists(other)) this.#retire(other, e);
      entry = { data: mapOrRead(path, bytes).data, mtime, users: 0 };
      this.#entries.set(path, entry);
    }
    entry.users++;
    return entry.data;
  }

  done(path: string, data: Uint8Array): void {
    const entry = this.#entries.get(path);
    if (entry?.data === data) {
      entry.users--;
      return;
    }
    const users = (this.#stale.get(data) ?? 1) - 1;
    if (users > 0) {
      this.#stale.set(data, users);
    } else {
      this.#stale.delete(data);
      releaseMapping(data);
    }
  }

  releaseAll(): void {
    for (const entry of this.#entries.values()) releaseMapping(entry.data);
    for (const data of this.#stale.keys()) releaseMapping(data);
    this.#entries.clear();
    this.#stale.clear();
  }

  #retire(path: string, entry: { data: Uint8Array; users: number }): void {
    this.#entries.delete(path);
    if (entry.users === 0) releaseMapping(entry.data);
    else this.#stale.set(entry.data, entry.users);
  }
}
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
