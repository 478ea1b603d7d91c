/**
 * AdamW in place over all cores: the update of one step is split by element count into one range per thread; the
 * calling thread runs the first range while worker threads (adamw_worker.ts) run the others over the same buffers.
 * At 0.5B parameters the update reads and writes ~14 GB per step, which one thread does at ~7 GB/s; elements are
 * independent, so the split changes nothing in the result.
 *
 * Why addresses and not SharedArrayBuffers: onnxruntime-node rejects typed arrays over a SharedArrayBuffer
 * ("Invalid argument") and the parameters and gradients are onnxruntime's feeds and fetches, while transferring
 * the buffers would detach the views `Trainer.params()` hands out. So workers get each buffer's address (Deno FFI
 * pointers, `--allow-ffi`) and view the same memory; the pool's caller keeps the buffers alive and attached until
 * `update` resolves. node:worker_threads rather than Web Workers because an idle worker must not keep the process
 * alive (a trainer that is never released must not hang its script): the workers are referenced (`ref`) only while
 * a request to them is pending. Without FFI permission, or for tensors below `minTensor` elements (small typed arrays can
 * live on V8's moving heap), the calling thread does the work.
 */
import { Worker } from "node:worker_threads";
import { CoopError } from "../../shared/mod.ts";
import { type AdamWBuffers, adamwInPlace, type AdamWInPlaceOptions, type AdamWInPlaceStep } from "./adamw_inplace.ts";
import type { PoolReply, PoolRequest, Segment } from "./adamw_worker.ts";
import type { BufferAddresses } from "./buffer_views.ts";

/** One tensor of an update: its buffers and whether weight decay applies. */
export interface PoolTensor {
  buffers: AdamWBuffers;
  decays: boolean;
}

/** Options of `AdamWPool`. */
export interface AdamWPoolOptions {
  /** Threads in all, the calling one included (default: navigator.hardwareConcurrency). */
  threads?: number;
  /** Below this many elements in one update everything runs on the calling thread (default 4M). */
  minParallel?: number;
  /** How long the workers may take to load and answer their first ping before the pool falls back (default 30 s). */
  startTimeoutMs?: number;
  /**
   * Tensors below this many elements are updated by the calling thread (default 65,536; at least 64: smaller
   * typed arrays can live on V8's moving heap, so their addresses are not stable).
   */
  minTensor?: number;
  /**
   * The worker script (default `adamw_worker.ts`). For fault-injection tests: a worker that fails partway through a
   * step is how a trainer learns to refuse half-updated state.
   */
  workerModule?: URL;
}

/** Raised when a worker of the pool fails. */
export class AdamWPoolError extends CoopError {
  override name = "AdamWPoolError";
}

/** How long the workers may take to load and answer their first ping, by default. */
const START_TIMEOUT_MS = 30_000;

function ffiGranted(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

/** Splits [0, total) over `parts` and maps each part to segments of the tensors, in order. */
export function splitRanges(lengths: readonly number[], parts: number): [number, number, number][][] {
  const total = lengths.reduce((a, b) => a + b, 0);
  const out: [number, number, number][][] = Array.from({ length: parts }, () => []);
  let base = 0;
  lengths.forEach((n, index) => {
    for (let p = 0; p < parts; p++) {
      const lo = Math.max(base, Math.floor((p * total) / parts));
      const hi = Math.min(base + n, Math.floor(((p + 1) * total) / parts));
      if (hi > lo) out[p]!.push([index, lo - base, hi - base]);
    }
    base += n;
  });
  return out;
}

/** A set of AdamW workers; `update` applies one step to many tensors, `close` ends the workers. */
export class AdamWPool {
  #threads: number;
  #minParallel: number;
  #minTensor: number;
  #workers: Promise<Worker[] | null> | null = null;
  #registered: AdamWBuffers[] = [];
  #pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #nextId = 0;
  #broken: Error | null = null;
  #lastThreads = 0;
  #startTimeoutMs: number;
  #workerModule: URL;

  constructor(options: AdamWPoolOptions = {}) {
    this.#threads = Math.max(1, Math.floor(options.threads ?? navigator.hardwareConcurrency ?? 1));
    this.#minParallel = options.minParallel ?? 4 * 2 ** 20;
    this.#minTensor = Math.max(64, options.minTensor ?? 65_536);
    this.#startTimeoutMs = options.startTimeoutMs ?? START_TIMEOUT_MS;
    this.#workerModule = options.workerModule ?? new URL("./adamw_worker.ts", import.meta.url);
  }

  /**
   * Applies one AdamW step to every tensor (in place). When a worker fails, the update rejects after the calling
   * thread's share is done: the other workers' ranges may be done, partly done or untouched, so the buffers then
   * hold a partly applied step (the Trainer refuses to go on from it).
   */
  async update(tensors: readonly PoolTensor[], step: AdamWInPlaceStep, options: Omit<AdamWInPlaceOptions, "decays">) {
    const shared = tensors.filter((t) => t.buffers.param.length >= this.#minTensor);
    const total = shared.reduce((n, t) => n + t.buffers.param.length, 0);
    const workers = this.#threads > 1 && total >= this.#minParallel && ffiGranted()
      ? await this.#ensureWorkers()
      : null;
    const local = workers === null ? tensors : tensors.filter((t) => !shared.includes(t));
    this.#lastThreads = workers === null ? 1 : workers.length + 1;
    if (workers !== null) {
      this.#register(workers, shared.map((t) => t.buffers));
      const parts = splitRanges(shared.map((t) => t.buffers.param.length), workers.length + 1);
      const segments = (p: number): Segment[] => parts[p]!.map(([i, a, b]) => [i, a, b, shared[i]!.decays]);
      const done = workers.map((w, k) =>
        this.#send(w, { kind: "step", id: 0, step, options, segments: segments(k + 1) })
      );
      for (const [i, start, end] of parts[0]!) {
        adamwInPlace(shared[i]!.buffers, step, { ...options, decays: shared[i]!.decays }, { start, end });
      }
      // Every worker must be done with the buffers before this returns, also when one of them failed: a caller
      // that restores the state after a failure must not race a worker still writing.
      const failed = (await Promise.allSettled(done)).find((r) => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
    }
    for (const t of local) adamwInPlace(t.buffers, step, { ...options, decays: t.decays });
  }

  /** Ends the workers (a later update starts new ones). */
  async close(): Promise<void> {
    const workers = await this.#workers;
    await Promise.all((workers ?? []).map((w) => w.terminate()));
    this.#workers = null;
    this.#registered = [];
    for (const p of this.#pending.values()) p.reject(new AdamWPoolError("AdamW pool closed during an update"));
    this.#pending.clear();
  }

  /**
   * Starts the workers once and waits until each has loaded and answered a ping, so a worker that cannot start
   * (permissions, runtime) is found before any update is split: the calling thread then does every update.
   */
  #ensureWorkers(): Promise<Worker[] | null> {
    this.#workers ??= (async () => {
      const workers: Worker[] = [];
      try {
        for (let k = 1; k < this.#threads; k++) {
          const w = new Worker(this.#workerModule, { name: "adamw" });
          w.unref();
          w.on("message", (reply: PoolReply) => this.#settle(reply));
          w.on("error", (e: Error) => this.#fail(new AdamWPoolError(`AdamW worker failed: ${e.message}`)));
          workers.push(w);
        }
        // A worker that never answers (a broken module) must not hang the trainer: fall back after a bound.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new AdamWPoolError("AdamW workers did not start")), this.#startTimeoutMs);
        });
        try {
          await Promise.race([Promise.all(workers.map((w) => this.#send(w, { kind: "ping", id: 0 }))), late]);
        } finally {
          clearTimeout(timer);
        }
        return workers;
      } catch (e) {
        await Promise.all(workers.map((w) => w.terminate()));
        this.#broken = e as Error;
        return null;
      }
    })();
    return this.#workers;
  }

  /** Threads the last update ran on (1: the calling thread alone). */
  get lastThreads(): number {
    return this.#lastThreads;
  }

  /** Why the pool runs on the calling thread only (a worker failed to start or failed later), or null. */
  get broken(): Error | null {
    return this.#broken;
  }

  #register(workers: Worker[], buffers: AdamWBuffers[]): void {
    const same = buffers.length === this.#registered.length && buffers.every((b, i) => {
      const r = this.#registered[i]!;
      return b.param === r.param && b.grad === r.grad && b.m === r.m && b.v === r.v;
    });
    if (same) return;
    const ref = (a: Float32Array): bigint => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a)));
    const sets: BufferAddresses[] = buffers.map((b) => ({
      param: ref(b.param),
      grad: ref(b.grad),
      m: ref(b.m),
      v: ref(b.v),
      length: b.param.length,
    }));
    for (const w of workers) w.postMessage({ kind: "buffers", sets } satisfies PoolRequest);
    this.#registered = [...buffers];
  }

  /** Sends a request and resolves on its reply; the worker keeps the process alive only until then. */
  #send(worker: Worker, request: PoolRequest & { id: number }): Promise<void> {
    const id = ++this.#nextId;
    worker.ref();
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage({ ...request, id });
    }).finally(() => worker.unref());
  }

  #settle(reply: PoolReply): void {
    const p = this.#pending.get(reply.id);
    if (p === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.error === undefined) p.resolve();
    else p.reject(new AdamWPoolError(`AdamW worker failed: ${reply.error}`));
  }

  /** A worker crashed: ends every worker, and only then fails the pending requests (no thread still writes). */
  #fail(error: Error): void {
    this.#broken = error;
    const workers = this.#workers;
    this.#workers = Promise.resolve(null);
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    void (async () => await Promise.all(((await workers) ?? []).map((w) => w.terminate())))()
      .catch(() => {})
      .finally(() => pending.forEach((p) => p.reject(error)));
  }
}
