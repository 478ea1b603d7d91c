/**
 * The across-hosts half of `./coop bench weights`: a publisher namespace and two consumer namespaces on an emulated
 * LAN (veths on a bridge, tests/deploy/netns.ts). The publisher's segment directory is served by a data-plane server
 * in its namespace; consumers download into their host's directory (per-host shared download). The baseline is raw
 * TCP over the same veths: one stream per consumer carrying the same bytes, nothing checked or stored; beside it the
 * same stream written into shared memory on the consumer's host (what keeping the bytes costs). NATS is not
 * on this LAN, so the control record reaches consumers in a file.
 */
import { join } from "node:path";
import type { WeightManifest } from "../actors/weights/mod.ts";
import { have, isRoot } from "../tests/deploy/host.ts";
import { createLan, type Lan } from "../tests/deploy/netns.ts";
import { cpuSeconds } from "./weights_peer.ts";
import { Peer, rounds } from "./weights_rounds.ts";

/** What the cross-host rounds need. */
export interface CrossHostOptions {
  counts: number[];
  repeats: number;
  work: string;
  /** The publisher's segment directory, and the segment in it. */
  pubDir: string;
  segmentFile: string;
  manifest: WeightManifest;
  token: string;
}

/** Why cross-host rounds cannot run here, or `undefined` when they can. */
export async function crossHostUnavailable(): Promise<string | undefined> {
  if (!isRoot()) return "not root (network namespaces need it)";
  if (!(await have("ip"))) return "no `ip` command (iproute2)";
  return undefined;
}

const DATA_PORT = 47311;
const TCP_PORT = 47312;

/** The paths measured across hosts. */
export type CrossPath = "plane" | "tcp" | "tcpStore";

/** GB/s of each path, and the CPU it cost per delivered byte (consumers' and server's), by consumer count. */
export interface CrossHostResult {
  gbS: Record<CrossPath, Record<string, number>>;
  cpuNsPerByte: Record<CrossPath, Record<string, { consumers: number; server: number }>>;
}

/** GB/s through the data plane and through raw TCP, by consumer count. */
export async function crossHostRounds(options: CrossHostOptions): Promise<CrossHostResult> {
  const lan: Lan = await createLan(["pub", "b", "c"]);
  const servers: Peer[] = [];
  try {
    const pub = lan.host("pub");
    const { manifest, token, work } = options;
    servers.push(new Peer(["serve", options.pubDir, token, pub.ip, String(DATA_PORT)], pub.ns));
    const segment = join(options.pubDir, options.segmentFile);
    servers.push(new Peer(["tcp-serve", pub.ip, String(TCP_PORT), segment, String(manifest.bytes)], pub.ns));
    await Promise.all(servers.map((s) => s.until((l) => l === "listening")));
    const hostDirs = { b: join(work, "host-b"), c: join(work, "host-c") };
    const specs: Record<string, string> = {};
    for (const [name, dir] of Object.entries(hostDirs)) {
      Deno.mkdirSync(dir, { recursive: true });
      specs[name] = join(work, `fetch-${name}.json`);
      const { sources: _, ...info } = manifest;
      Deno.writeTextFileSync(
        specs[name]!,
        JSON.stringify({
          dir,
          key: { cluster: "bench", name: manifest.name, dtype: manifest.dtype },
          info,
          source: { url: `tcp://${pub.ip}:${DATA_PORT}`, token, file: options.segmentFile },
          streams: 4,
        }),
      );
    }
    const clear = () => {
      for (const dir of Object.values(hostDirs)) {
        for (const e of Deno.readDirSync(dir)) Deno.removeSync(join(dir, e.name));
      }
    };
    const out: CrossHostResult = {
      gbS: { plane: {}, tcp: {}, tcpStore: {} },
      cpuNsPerByte: { plane: {}, tcp: {}, tcpStore: {} },
    };
    const measure = async (path: CrossPath, n: number, server: Peer, args: (k: number, go: string) => string[]) => {
      const hostOf = (k: number) => (k % 2 === 0 ? "b" : "c");
      const cpu = cpuSeconds(server.pid);
      const r = await rounds(
        (go) => Array.from({ length: n }, (_, k) => new Peer(args(k, go), lan.host(hostOf(k)).ns)),
        { repeats: options.repeats, bytes: manifest.bytes, work, before: clear },
      );
      const delivered = n * manifest.bytes * options.repeats;
      out.gbS[path][n] = r.gbS;
      out.cpuNsPerByte[path][n] = {
        consumers: r.cpuNsPerByte,
        server: (cpuSeconds(server.pid) - cpu) / delivered * 1e9,
      };
    };
    const [planeServer, tcpServer] = servers as [Peer, Peer];
    const tcpArgs = [pub.ip, String(TCP_PORT), String(manifest.bytes)];
    const repeats = String(options.repeats);
    for (const n of options.counts) {
      await measure("tcp", n, tcpServer, (_, go) => ["tcp-fetch", ...tcpArgs, go, repeats]);
      // One consumer per host at most: more would each keep their own copy in this machine's memory.
      if (n <= 2) {
        await measure("tcpStore", n, tcpServer, (k, go) => {
          const file = join(k % 2 === 0 ? hostDirs.b : hostDirs.c, `tcp-store-${k}.bin`);
          return ["tcp-store", ...tcpArgs, file, go, repeats];
        });
      }
      await measure("plane", n, planeServer, (k, go) => ["fetch", specs[k % 2 === 0 ? "b" : "c"]!, go, repeats]);
      clear();
    }
    return out;
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await lan.teardown();
  }
}
