/**
 * A quick look at what storing a download costs the consumer (not a suite: prints, writes nothing to bench/out).
 * One segment served on loopback by a data-plane server in its own process; this process downloads it again and
 * again into a directory, deleting the last copy first, and reports its own CPU per byte. `--delay-ms` waits between
 * the delete and the next download: on a VM whose balloon reports free pages to the host, memory freed that long ago
 * has gone back to the host and its first touch costs more (measured here: docs/weights.md, "Where the consumer's
 * CPU goes").
 *   deno run -A bench/weights_touch.ts --dir /dev/shm/x [--mib 1024] [--receive map|write] [--delay-ms 0] [--runs 3]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { digestBytes } from "../actors/weights/digest.ts";
import { downloadSegment } from "../actors/weights/fetch.ts";
import { completeSegment, segmentFile } from "../actors/weights/segment.ts";
import type { ReceiveMode } from "../actors/weights/sink.ts";
import { freePort } from "../coordinator/local/mod.ts";

const { values } = parseArgs({
  options: {
    dir: { type: "string" },
    mib: { type: "string", default: "1024" },
    receive: { type: "string", default: "map" },
    "delay-ms": { type: "string", default: "0" },
    runs: { type: "string", default: "3" },
  },
});
if (values.dir === undefined) throw new Error("Missing --dir: the directory to download into");
const bytes = Number(values.mib) * 2 ** 20;
const key = { cluster: "touch", name: "w", dtype: "float32" as const };
const pub = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "coop-touch-pub-" });
const file = segmentFile(key, Deno.pid);
const data = new Uint8Array(bytes);
for (let i = 0; i < bytes; i += 4096) data[i] = i & 255;
Deno.writeFileSync(join(pub, file), data);
const info = { ...await digestBytes(data), name: key.name, dtype: key.dtype, version: 1 };
await completeSegment(join(pub, file), { ...info, pid: Deno.pid });
const token = crypto.randomUUID();
const port = freePort();
const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    new URL("./weights_peer.ts", import.meta.url).pathname,
    "serve",
    pub,
    token,
    "127.0.0.1",
    `${port}`,
  ],
  stdin: "piped",
  stdout: "piped",
}).spawn();
// The peer prints "listening" once bound.
const reader = server.stdout.getReader();
await reader.read();
reader.releaseLock();

const cpuSeconds = () => {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
try {
  Deno.mkdirSync(values.dir, { recursive: true, mode: 0o700 });
  for (let run = 0; run < Number(values.runs); run++) {
    for (const e of Deno.readDirSync(values.dir)) Deno.removeSync(join(values.dir, e.name));
    await new Promise((resolve) => setTimeout(resolve, Number(values["delay-ms"])));
    const [cpu, t0] = [cpuSeconds(), performance.now()];
    await downloadSegment({
      dir: values.dir,
      key,
      info,
      source: { url: `tcp://127.0.0.1:${port}`, token, file },
      receive: values.receive as ReceiveMode,
    });
    const ns = (cpuSeconds() - cpu) / bytes * 1e9;
    const gbS = bytes / ((performance.now() - t0) / 1000) / 1e9;
    console.log(
      `${values.receive} delay ${values["delay-ms"]} ms: consumer ${ns.toFixed(2)} ns/B, ${gbS.toFixed(3)} GB/s`,
    );
  }
} finally {
  server.stdin.close();
  await server.status;
  Deno.removeSync(pub, { recursive: true });
  for (const e of Deno.readDirSync(values.dir)) Deno.removeSync(join(values.dir, e.name));
}
