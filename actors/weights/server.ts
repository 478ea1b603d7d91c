/**
 * The data plane's server: serves the complete weight segments of one directory over HTTP, by file name and
 * digest, in byte ranges, to holders of the plane's bearer token. Nothing else is reachable: the name must be a
 * segment file name (no separators, no `..`), the segment must be complete (its sidecar exists) and, when the
 * request names a digest, hold exactly that digest. The token travels only in the version's control record in the
 * cluster's NATS KV, so reading weights off the data plane takes the same NATS rights as reading the record.
 */
import { timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import { WeightPlaneError } from "./errors.ts";
import { mapOrRead } from "./local.ts";
import { parseSegmentFile, readSidecar } from "./segment.ts";

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
  /** Base URL, e.g. `http://10.0.0.2:41234`. */
  readonly url: string;
  stop(): Promise<void>;
}

const ROUTE = /^\/v1\/weights\/([^/]+)$/;

/** Starts serving `dir`. */
export function startWeightServer(options: WeightServerOptions): WeightServer {
  if (options.token.length < 16) throw new WeightPlaneError("The weight server needs a token of 16+ characters");
  const expected = new TextEncoder().encode(`Bearer ${options.token}`);
  const maps = new Map<string, { data: Uint8Array; mtime: number }>();
  const authorized = (header: string | null) => {
    const given = new TextEncoder().encode(header ?? "");
    return given.byteLength === expected.byteLength && timingSafeEqual(given, expected);
  };
  const handler = (request: Request): Response => {
    const route = ROUTE.exec(new URL(request.url).pathname);
    if (request.method !== "GET" || route === null) return new Response("not found\n", { status: 404 });
    if (!authorized(request.headers.get("authorization"))) return new Response("unauthorized\n", { status: 401 });
    const file = decodeURIComponent(route[1]!);
    if (parseSegmentFile(file) === undefined) return new Response("not a weight segment\n", { status: 404 });
    const path = join(options.dir, file);
    const info = readSidecar(path);
    const digest = new URL(request.url).searchParams.get("digest");
    if (info === undefined || (digest !== null && digest !== info.digest)) {
      maps.delete(path);
      return new Response("no such segment\n", { status: 404 });
    }
    const data = segmentData(maps, path, info.bytes);
    const range = parseRange(request.headers.get("range"), data.byteLength);
    if (range === "bad") return new Response("bad range\n", { status: 416 });
    const [start, end] = range ?? [0, data.byteLength];
    return new Response(data.subarray(start, end) as Uint8Array<ArrayBuffer>, {
      status: range === undefined ? 200 : 206,
      headers: {
        "content-type": "application/octet-stream",
        ...(range === undefined ? {} : { "content-range": `bytes ${start}-${end - 1}/${data.byteLength}` }),
      },
    });
  };
  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
    onError: (error) => new Response(`error: ${(error as Error).message}\n`, { status: 500 }),
  }, handler);
  const address = server.addr as Deno.NetAddr;
  return {
    url: `http://${options.advertise ?? address.hostname}:${address.port}`,
    async stop() {
      maps.clear();
      await server.shutdown();
    },
  };
}

/** The segment's bytes, mapped once per file version (a retired or replaced file is mapped afresh or refused). */
function segmentData(maps: Map<string, { data: Uint8Array; mtime: number }>, path: string, bytes: number): Uint8Array {
  const mtime = Deno.statSync(path).mtime?.getTime() ?? 0;
  const cached = maps.get(path);
  if (cached !== undefined && cached.mtime === mtime) return cached.data;
  const data = mapOrRead(path, bytes).data;
  maps.set(path, { data, mtime });
  return data;
}

/** `bytes=a-b` (one range) to `[a, b + 1)`; `undefined` without a header. */
function parseRange(header: string | null, size: number): [number, number] | undefined | "bad" {
  if (header === null) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (m === null) return "bad";
  const start = Number(m[1]);
  const end = m[2] === "" ? size : Math.min(size, Number(m[2]) + 1);
  return start < end ? [start, end] : "bad";
}
