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
export type CrossPath = "plane" | "planePlain" | "tcp" | "tcpStore";

/** GB/s of each path, and the CPU it cost per delivered byte (consumers' and server's), by consumer count. */
export interface CrossHostResult {
  gbS: Record<CrossPath, Record<string, number>>;
  cpuNsPerByte: Record<CrossPath, Record<string, { consumers: number; server: number }>>;
  /** Whether the consumer hosts' directories were huge-page tmpfs mounts (`plane`; `planePlain` is /dev/shm). */
  hugeDirs: boolean;
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
    const plainDirs = { b: join(work, "host-b"), c: join(work, "host-c") };
    const hugeDirs = { b: join(work, "huge-b"), c: join(work, "huge-c") };
    // Room for two copies: a round's clean-up may run before the last round's consumer has let go of its file.
    const huge = await mountHuge(Object.values(hugeDirs), 2 * manifest.bytes + 64 * 2 ** 20);
    const specs = {
      plain: writeSpecs(options, pub.ip, "plain", plainDirs),
      huge: writeSpecs(options, pub.ip, "huge", hugeDirs),
    };
    const clear = () => {
      for (const dir of [...Object.values(plainDirs), ...Object.values(hugeDirs)]) {
        for (const e of Deno.readDirSync(dir)) Deno.removeSync(join(dir, e.name));
      }
    };
    const out: CrossHostResult = {
      gbS: { plane: {}, planePlain: {}, tcp: {}, tcpStore: {} },
      cpuNsPerByte: { plane: {}, planePlain: {}, tcp: {}, tcpStore: {} },
      hugeDirs: huge,
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
          // Into the directory the data plane receives into: what keeping the bytes costs there, nothing checked.
          const dirs = huge ? hugeDirs : plainDirs;
          const file = join(k % 2 === 0 ? dirs.b : dirs.c, `tcp-store-${k}.bin`);
          return ["tcp-store", ...tcpArgs, file, go, repeats];
        });
      }
      const fetch = (which: "plain" | "huge") => (k: number, go: string) => {
        return ["fetch", specs[which][k % 2 === 0 ? "b" : "c"], go, repeats];
      };
      if (huge) await measure("plane", n, planeServer, fetch("huge"));
      await measure(huge ? "planePlain" : "plane", n, planeServer, fetch("plain"));
      clear();
    }
    return out;
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await lan.teardown();
    for (const dir of [join(options.work, "huge-b"), join(options.work, "huge-c")]) {
      await new Deno.Command("umount", { args: [dir], stderr: "null" }).output().catch(() => {});
    }
  }
}

/** The download spec of each consumer host (dirs by host name), written for the fetch peers. */
function writeSpecs(
  options: CrossHostOptions,
  ip: string,
  kind: string,
  dirs: { b: string; c: string },
): { b: string; c: string } {
  const { manifest, token, work } = options;
  const { sources: _, ...info } = manifest;
  const out = { b: "", c: "" };
  for (const name of ["b", "c"] as const) {
    Deno.mkdirSync(dirs[name], { recursive: true });
    out[name] = join(work, `fetch-${kind}-${name}.json`);
    const spec = {
      dir: dirs[name],
      key: { cluster: "bench", name: manifest.name, dtype: manifest.dtype },
      info,
      source: { url: `tcp://${ip}:${DATA_PORT}`, token, file: options.segmentFile },
      streams: 4,
    };
    Deno.writeTextFileSync(out[name], JSON.stringify(spec));
  }
  return out;
}

/**
 * Mounts a tmpfs with transparent huge pages (`huge=within_size`) on each of `dirs`: the segment directory the
 * data plane receives fastest into (sink.ts). False (nothing mounted) where the kernel refuses.
 */
async function mountHuge(dirs: string[], bytes: number): Promise<boolean> {
  for (const dir of dirs) {
    Deno.mkdirSync(dir, { recursive: true });
    const args = ["-t", "tmpfs", "-o", `size=${bytes},huge=within_size,mode=700`, "coop-bench-huge", dir];
    const done = await new Deno.Command("mount", { args, stderr: "piped" }).output();
    if (!done.success) return false;
  }
  return true;
}
