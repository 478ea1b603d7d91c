/**
 * The processes of `./coop bench weights` other than the driver: consumers (data plane, Object Store, raw TCP)
 * and servers (data plane, raw TCP), each in its own process — and, across hosts, its own network namespace. Every
 * consumer waits for a go file per repeat (so process start-up is not timed) and prints one JSON line per repeat
 * with its own start and end (epoch ms).
 */
import { Objm } from "@nats-io/obj";
import { parseSafetensors } from "../engine/io/mod.ts";
import { connectNats } from "../shared/nats_transport.ts";
import { type WeightDtype, WeightPlane } from "../actors/weights/mod.ts";
import { type DownloadOptions, downloadSegment } from "../actors/weights/fetch.ts";
import { mapOrRead, openSegment, releaseMapping } from "../actors/weights/local.ts";
import { startWeightServer } from "../actors/weights/server.ts";
import { receiveMode } from "../actors/weights/sink.ts";

const now = () => performance.timeOrigin + performance.now();

/** CPU seconds (user + system, all threads) this process has used: the cost of a path, whatever the load. */
export function cpuSeconds(pid: number | "self" = "self"): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

async function waitForFile(path: string): Promise<void> {
  while (true) {
    try {
      Deno.statSync(path);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
}

/** Runs `once` per repeat after that repeat's go file appears; prints its timing. */
async function repeat(go: string, repeats: number, once: () => Promise<Record<string, unknown>>): Promise<void> {
  console.log("ready");
  for (let i = 0; i < repeats; i++) {
    await waitForFile(`${go}.${i}`);
    const [start, cpu] = [now(), cpuSeconds()];
    const extra = await once();
    console.log(JSON.stringify({ i, start, end: now(), cpu: cpuSeconds() - cpu, ...extra }));
  }
}

/**
 * Reads one byte of every page, so a mapped version is resident in this consumer's address space (what a copy
 * gives the memcpy baseline) rather than only reserved.
 */
export function touchPages(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < data.byteLength; i += 4096) sum += data[i]!;
  return sum;
}

/** Loads through the data plane the way VersionedModel does (record, source, digest check, parse), every page touched. */
async function planeLoad([url, dir, name, dtype, go, repeats]: string[]): Promise<void> {
  const transport = await connectNats({ servers: url! });
  const plane = new WeightPlane({ cluster: "bench", transport, dir: dir!, durable: "none" });
  await repeat(go!, Number(repeats), async () => {
    const loaded = await plane.load(name!, dtype as WeightDtype);
    const tensors = parseSafetensors(loaded.data).tensors.size;
    touchPages(loaded.data);
    loaded.release();
    return { via: loaded.via, checked: loaded.checked, tensors };
  });
  await transport.close();
}

/**
 * The same-host baseline with the same consumers: each process copies the published segment into its own 256 MiB
 * buffer (faulted in before the timed rounds) block by block, all at once, like the data plane's consumers load it.
 */
async function memcpyLoad([path, bytes, go, repeats]: string[]): Promise<void> {
  const source = mapOrRead(path!, Number(bytes)).data;
  const block = Math.min(source.byteLength, 256 << 20);
  const dst = new Uint8Array(block);
  dst.set(source.subarray(0, block));
  await repeat(go!, Number(repeats), () => {
    for (let off = 0; off < source.byteLength; off += block) dst.set(source.subarray(off, off + block));
    return Promise.resolve({ bytes: source.byteLength });
  });
}

/** Streams a blob out of the Object Store (digest checked by nats.js) and drops the bytes: its best case. */
async function blobLoad([url, bucket, name, go, repeats]: string[]): Promise<void> {
  const transport = await connectNats({ servers: url! });
  const store = await new Objm(transport.raw).open(bucket!);
  await repeat(go!, Number(repeats), async () => {
    const result = await store.get(name!);
    if (result === null) throw new Error(`no blob ${name}`);
    let bytes = 0;
    for await (const chunk of result.data) bytes += chunk.byteLength;
    const error = await result.error;
    if (error) throw error;
    return { bytes };
  });
  await transport.close();
}

/** Downloads a segment from a peer host (the control record comes in a file: NATS is not on this LAN). */
async function fetchSegment([spec, go, repeats]: string[]): Promise<void> {
  const options = JSON.parse(Deno.readTextFileSync(spec!)) as DownloadOptions;
  await repeat(go!, Number(repeats), async () => {
    const got = await downloadSegment(options);
    // As WeightPlane.load: a download hashed every chunk here; another consumer's download is opened by its seal.
    const { data, checked } = got.fetched
      ? { data: mapOrRead(got.path, options.info.bytes).data, checked: "hashed" }
      : await openSegment(got.path, got.info, options.info, "bench");
    const tensors = parseSafetensors(data).tensors.size;
    touchPages(data);
    releaseMapping(data); // the next round's clean-up then frees this host's memory at once
    return { fetched: got.fetched, checked, tensors, receive: receiveMode(options.dir) };
  });
}

function serve([dir, token, hostname, port]: string[]): void {
  startWeightServer({ dir: dir!, token: token!, hostname, port: Number(port) });
  console.log("listening");
}

/** The baseline: one TCP stream per connection carrying the segment's bytes, nothing else. */
function tcpServe([hostname, port, path, bytes]: string[]): void {
  const data = mapOrRead(path!, Number(bytes)).data;
  const listener = Deno.listen({ hostname, port: Number(port) });
  console.log("listening");
  void (async () => {
    for await (const conn of listener) {
      void (async () => {
        for (let off = 0; off < data.byteLength;) off += await conn.write(data.subarray(off, off + (16 << 20)));
        conn.close();
      })().catch(() => {});
    }
  })();
}

async function tcpFetch([hostname, port, bytes, go, repeats]: string[]): Promise<void> {
  const buffer = new Uint8Array(16 << 20);
  await repeat(go!, Number(repeats), async () => {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    let got = 0;
    while (got < Number(bytes)) {
      const n = await conn.read(buffer);
      if (n === null) break;
      got += n;
    }
    conn.close();
    return { bytes: got };
  });
}

/**
 * The baseline a consumer that keeps the bytes pays: the same raw TCP stream, written into a file on this host's
 * shared memory as it arrives (nothing checked); the file is removed after each timed round.
 */
async function tcpStore([hostname, port, bytes, file, go, repeats]: string[]): Promise<void> {
  const buffer = new Uint8Array(16 << 20);
  await repeat(go!, Number(repeats), async () => {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    using out = await Deno.open(file!, { write: true, create: true, truncate: true });
    let got = 0;
    while (got < Number(bytes)) {
      const n = await conn.read(buffer);
      if (n === null) break;
      for (let done = 0; done < n;) done += await out.write(buffer.subarray(done, n));
      got += n;
    }
    conn.close();
    return { bytes: got };
  });
}

const MODES: Record<string, (args: string[]) => Promise<void> | void> = {
  "plane-load": planeLoad,
  "blob-load": blobLoad,
  memcpy: memcpyLoad,
  fetch: fetchSegment,
  serve,
  "tcp-serve": tcpServe,
  "tcp-fetch": tcpFetch,
  "tcp-store": tcpStore,
};

if (import.meta.main) {
  // The driver holds our stdin: when it dies (even by SIGKILL) we see EOF and go too, leaving nothing running.
  void (async () => {
    for await (const _ of Deno.stdin.readable) { /* nothing is sent */ }
    Deno.exit(0);
  })();
  const [mode, ...rest] = Deno.args;
  await MODES[mode!]!(rest);
}
