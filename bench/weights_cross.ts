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

/** GB/s through the data plane and through raw TCP, by consumer count. */
export async function crossHostRounds(
  options: CrossHostOptions,
): Promise<{ plane: Record<string, number>; tcp: Record<string, number>; tcpStore: Record<string, number> }> {
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
    const plane: Record<string, number> = {};
    const tcp: Record<string, number> = {};
    const tcpStore: Record<string, number> = {};
    for (const n of options.counts) {
      const hostOf = (k: number) => (k % 2 === 0 ? "b" : "c");
      const common = { repeats: options.repeats, bytes: manifest.bytes, work };
      tcp[n] = (await rounds((go) =>
        Array.from({ length: n }, (_, k) =>
          new Peer(
            ["tcp-fetch", pub.ip, String(TCP_PORT), String(manifest.bytes), go, String(options.repeats)],
            lan.host(hostOf(k)).ns,
          )), common)).gbS;
      // One consumer per host at most: more would each keep their own copy in this machine's memory.
      if (n <= 2) {
        tcpStore[n] = (await rounds((go) =>
          Array.from({ length: n }, (_, k) =>
            new Peer(
              [
                "tcp-store",
                pub.ip,
                String(TCP_PORT),
                String(manifest.bytes),
                join(hostDirs[hostOf(k)], `tcp-store-${k}.bin`),
                go,
                String(options.repeats),
              ],
              lan.host(hostOf(k)).ns,
            )), { ...common, before: clear })).gbS;
      }
      plane[n] = (await rounds((go) =>
        Array.from({ length: n }, (_, k) =>
          new Peer(["fetch", specs[hostOf(k)]!, go, String(options.repeats)], lan.host(hostOf(k)).ns)), {
        ...common,
        before: clear,
      })).gbS;
      clear();
    }
    return { plane, tcp, tcpStore };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await lan.teardown();
  }
}
