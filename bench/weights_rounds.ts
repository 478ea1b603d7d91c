/**
 * What the weights benchmark's driver needs to run peers: a bench process (optionally inside a network namespace)
 * whose stdout is kept, timed rounds released by go files, the synthetic model and the memcpy baseline.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tensor } from "../shared/tensor.ts";

const PEER = fileURLToPath(new URL("./weights_peer.ts", import.meta.url));
const MIB = 1024 * 1024;
const now = () => performance.timeOrigin + performance.now();
const ROUND_TIMEOUT_MS = 60 * 60_000;

/** A bench process (optionally inside a network namespace) whose stdout lines are kept. */
export class Peer {
  readonly #child: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #done: Promise<void>;
  #stderr = "";

  constructor(args: string[], ns?: string) {
    const deno = [Deno.execPath(), "run", "-A", "--v8-flags=--expose-gc", PEER, ...args];
    const [cmd, ...rest] = ns === undefined ? deno : ["ip", "netns", "exec", ns, ...deno];
    this.#child = new Deno.Command(cmd!, { args: rest, stdout: "piped", stderr: "piped", stdin: "piped" }).spawn();
    const read = async (stream: ReadableStream<Uint8Array>, sink: (line: string) => void) => {
      let rest = "";
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + text).split("\n");
        rest = parts.pop() ?? "";
        parts.forEach(sink);
      }
    };
    this.#done = Promise.all([
      read(this.#child.stdout, (l) => this.lines.push(l)),
      read(this.#child.stderr, (l) => this.#stderr += `${l}\n`),
    ]).then(() => {});
  }

  /** The process id (`ip netns exec` execs the bench process, so it is that process's). */
  get pid(): number {
    return this.#child.pid;
  }

  async until(what: (line: string) => boolean, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.lines.some(what)) {
      const status = await Promise.race([this.#child.status, new Promise((r) => setTimeout(() => r(null), 5))]);
      if (status !== null || Date.now() > deadline) {
        throw new Error(`bench peer ${status ? "exited" : "timed out"}: ${this.#stderr.slice(-2000)}`);
      }
    }
  }

  result(i: number): { start: number; end: number; cpu: number } & Record<string, unknown> {
    return JSON.parse(this.lines.find((l) => l.startsWith(`{"i":${i},`))!);
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* exited */ }
    await this.#child.status;
    await this.#done.catch(() => {});
  }
}

/**
 * Starts `peers`, then runs `repeats` rounds (each released by one go file, `before` run first); returns the best
 * round's GB/s for `bytes` delivered to each peer.
 */
export async function rounds(
  make: (go: string) => Peer[],
  options: { repeats: number; bytes: number; work: string; before?: () => void },
): Promise<{ gbS: number; seconds: number; cpuNsPerByte: number; last: Record<string, unknown>[] }> {
  const go = join(options.work, `go-${crypto.randomUUID()}`);
  const peers = make(go);
  try {
    await Promise.all(peers.map((p) => p.until((l) => l === "ready")));
    let best = Infinity;
    let cpu = 0;
    for (let i = 0; i < options.repeats; i++) {
      options.before?.();
      const t0 = now();
      Deno.writeTextFileSync(`${go}.${i}`, "");
      // A round may take long (the Object Store moves a full version per consumer at tens of MB/s here).
      await Promise.all(peers.map((p) => p.until((l) => l.startsWith(`{"i":${i},`), ROUND_TIMEOUT_MS)));
      best = Math.min(best, (Math.max(...peers.map((p) => p.result(i).end)) - t0) / 1000);
      cpu += peers.reduce((sum, p) => sum + p.result(i).cpu, 0);
    }
    const delivered = peers.length * options.bytes;
    const last = peers.map((p) => p.result(options.repeats - 1));
    return { gbS: delivered / best / 1e9, seconds: best, cpuNsPerByte: cpu / options.repeats / delivered * 1e9, last };
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
  }
}

/** A synthetic model of `bytes` bytes of float32 in 64 tensors. */
export function syntheticWeights(bytes: number): Map<string, Tensor> {
  const perTensor = Math.floor(bytes / 4 / 64);
  const out = new Map<string, Tensor>();
  for (let t = 0; t < 64; t++) {
    const data = new Float32Array(perTensor);
    for (let i = 0; i < perTensor; i += 1024) data[i] = (t + 1) * 0.001 * (i % 7);
    out.set(`model.layers.${t}.weight`, new Tensor("float32", [perTensor], data));
  }
  return out;
}

/** memcpy GB/s of `n` copies of `source` through a reused 256 MiB destination (cache-cold either way). */
export function memcpyGbS(source: Uint8Array, n: number): number {
  const block = Math.min(source.byteLength, 256 * MIB);
  const dst = new Uint8Array(block);
  dst.set(source.subarray(0, block)); // fault the destination in first
  const t0 = performance.now();
  for (let k = 0; k < n; k++) {
    for (let off = 0; off < source.byteLength; off += block) dst.set(source.subarray(off, off + block));
  }
  return (n * source.byteLength) / ((performance.now() - t0) / 1000) / 1e9;
}
