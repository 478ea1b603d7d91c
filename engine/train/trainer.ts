/**
 * One training step per call: the user's loss and its gradients compiled into an ONNX graph per batch shape, then
 * clipping and AdamW. By default (`update: "inPlace"`) the graph writes the gradients into buffers allocated once
 * (pre-allocated fetches) and AdamW updates parameters and moments in place in JS, so parameters, gradients and
 * both moments each exist exactly once, as in PyTorch; `update: "graph"` compiles the update into the graph and
 * swaps in the new state tensors it returns (state held twice during a step; the reference path of the tests).
 * Shapes are static; one session is compiled per batch shape (a bucket) and cached. With several micro-batches the
 * gradient buffers accumulate: every micro-batch after the first runs a graph that writes `acc + grad` back into the
 * same buffers.
 *
 * Why static buckets rather than dynamic dims: creating a session for the small benchmark model took 0.2-0.35 s
 * against 0.25-0.6 s per step, so a bucket pays for itself within one step, while dynamic dims would turn every
 * reshape target and broadcast reduction into run-time shape arithmetic to save at most 15 padded tokens per row
 * (lengths padded to multiples of 16 with `bucketLength`).
 *
 * A non-finite loss or gradient norm skips the step: the in-place path checks before it touches any state, the graph
 * path keeps feeding the previous tensors.
 */
import type * as ort from "onnxruntime-node";
import { CoopError } from "../../shared/mod.ts";
import { type DType, Tensor } from "../../shared/mod.ts";
import { Graph, type Shape } from "../graph/mod.ts";
import { type AdamWOptions, AdamWPool, type AdamWPoolOptions, clipCoefficient } from "../optim/mod.ts";
import { addRows } from "./row_scatter.ts";
import { collectGarbage, createSession, type Session, type SessionOptions, toOrt } from "../session/mod.ts";
import {
  buildFusedStepGraph,
  buildGradGraph,
  type GradGraphKind,
  type LossFn,
  type StepGraphKind,
  type StepGraphSpec,
} from "./step_graph.ts";

export type { LossFn, LossOutputs, StepGraphKind } from "./step_graph.ts";

/** Where AdamW runs: in place over the trainer's buffers (default) or inside the step graph (copies state). */
export type UpdateMode = "inPlace" | "graph";

/** Options of `Trainer`. */
export interface TrainerOptions {
  /** The loss graph. */
  loss: LossFn;
  /** Initial float32 parameters by name (copied: the trainer owns its buffers, unless `adoptParams`). */
  params: Record<string, Tensor>;
  /**
   * Use the given parameter buffers as the trainer's own state instead of copying them (they are then updated in
   * place by every step): saves one copy of the model while the trainer is built.
   */
  adoptParams?: boolean;
  /** Names of the parameters to train (default: all); the others are inputs only. */
  trainable?: readonly string[];
  /** AdamW hyper-parameters (learning rate is passed to each step). */
  adamw?: AdamWOptions;
  /** onnxruntime session options (execution provider, threads). */
  session?: SessionOptions;
  /** Name used in errors and session names (default "trainer"). */
  name?: string;
  /** Where the update runs (default "inPlace"). */
  update?: UpdateMode;
  /** Threads of the in-place update (default: `session.intraOpThreads` threads, split from 4M parameters up). */
  updatePool?: AdamWPoolOptions;
}

/** Options of one `step`. */
export interface StepOptions {
  /** Learning rate of this step. */
  lr: number;
}

/** What one optimizer step did. */
export interface StepReport {
  /** Mean loss over the micro-batches. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** True when the loss or the gradient norm was not finite: weights and optimizer state were left unchanged. */
  skipped: boolean;
  /** Number of updates applied so far (unchanged by a skipped step). */
  step: number;
  /** The loss function's metrics, averaged over micro-batches. */
  metrics: Record<string, number>;
  /**
   * Wall time of the step's parts, ms: the graph runs (with their output copies) and the update after them, and
   * the threads the update ran on.
   */
  timing: { graphMs: number; updateMs: number; updateThreads: number };
}

/** Raised for bad batches, parameters or state handed to a trainer. */
export class TrainerError extends CoopError {
  override name = "TrainerError";
}

/** Rounds a length up to a multiple of `multiple` (the bucket a sequence is padded to). */
export function bucketLength(length: number, multiple = 16): number {
  return Math.max(multiple, Math.ceil(length / multiple) * multiple);
}

/** Gradients at least this large get a garbage collection after each run (session/gc.ts); small ones need none. */
const GC_BYTES = 256 * 2 ** 20;

const RESERVED = /^(lr|step|inv_micro_batches|acc_loss|loss|grad_norm|ok|sumsq)$|^(acc|adamw|next|metric|grad|rows)\./;

function scalar(t: ort.Tensor): number {
  return Number((t.data as ArrayLike<number | bigint>)[0]);
}

function f32(value: number): ort.Tensor {
  return toOrt(new Tensor("float32", [], Float32Array.of(value)));
}

/** A float32 tensor with its own buffer, and the ort.Tensor over that buffer fed to sessions. */
class Slot {
  tensor: Tensor<"float32">;
  ort: ort.Tensor;
  constructor(shape: Shape, data?: Float32Array, adopt = false) {
    const buffer = adopt && data !== undefined ? data : new Float32Array(shape.reduce((p, q) => p * q, 1));
    if (data !== undefined && buffer !== data) buffer.set(data);
    this.tensor = new Tensor("float32", shape, buffer);
    this.ort = toOrt(this.tensor);
  }
  get data(): Float32Array {
    return this.tensor.data as Float32Array;
  }
  /** Adopts a new tensor as the state (the graph path's outputs). */
  replace(t: ort.Tensor): void {
    this.ort = t;
    this.tensor = new Tensor("float32", t.dims, t.data as Float32Array);
  }
}

/** A model's training loop state with a compiled step per batch shape. */
export class Trainer {
  readonly name: string;
  readonly update: UpdateMode;
  #loss: LossFn;
  #adamw: AdamWOptions;
  #sessionOptions: SessionOptions;
  #shapes = new Map<string, { dtype: DType; shape: Shape }>();
  #trainable: string[];
  #decays = new Map<string, boolean>();
  #params = new Map<string, Slot>();
  #m = new Map<string, Slot>();
  #v = new Map<string, Slot>();
  #grads: Map<string, Slot> | null = null;
  #gradBytes = 0;
  #step = 0;
  #sessions = new Map<string, Promise<Session>>();
  #pool: AdamWPool;
  #queue: Promise<unknown> = Promise.resolve();
  /** Set when an update failed partway: what is still to restore (every parameter, the optimizer state). */
  #damage: { error: TrainerError; params: Set<string>; state: boolean } | null = null;

  constructor(options: TrainerOptions) {
    this.name = options.name ?? "trainer";
    this.update = options.update ?? "inPlace";
    this.#loss = options.loss;
    this.#adamw = options.adamw ?? {};
    this.#sessionOptions = options.session ?? {};
    // The update uses as many threads as the graph runs (the process's core budget).
    this.#pool = new AdamWPool({ threads: this.#sessionOptions.intraOpThreads, ...options.updatePool });
    for (const [name, t] of Object.entries(options.params)) {
      if (t.dtype !== "float32") {
        throw new TrainerError(`Cannot train parameter "${name}": dtype ${t.dtype} is not float32`);
      }
      if (RESERVED.test(name)) throw new TrainerError(`Cannot train parameter "${name}": the name is reserved`);
      this.#shapes.set(name, { dtype: t.dtype, shape: t.shape });
      this.#params.set(name, new Slot(t.shape, t.data as Float32Array, options.adoptParams));
    }
    this.#trainable = [...(options.trainable ?? Object.keys(options.params))];
    // The decay predicate sees the parameter as a graph input (its rank and shape), as in the graph path.
    const probe = new Graph("decays");
    const decays = this.#adamw.decays ?? ((_: string, p: { rank: number }) => p.rank >= 2);
    for (const name of this.#trainable) {
      const spec = this.#shapes.get(name);
      if (spec === undefined) throw new TrainerError(`Cannot train "${name}": it is not among the parameters`);
      this.#m.set(name, new Slot(spec.shape));
      this.#v.set(name, new Slot(spec.shape));
      this.#decays.set(name, decays(name, probe.input(name, "float32", spec.shape)));
    }
  }

  /** Number of updates applied. */
  get stepCount(): number {
    return this.#step;
  }

  /**
   * Current parameters as Coop tensors: views of the trainer's live buffers, which the next step overwrites in
   * place (copy them to keep a snapshot; do not mutate).
   */
  params(): Record<string, Tensor> {
    this.#checkIntact("read the parameters of");
    return Object.fromEntries([...this.#params].map(([k, s]) => [k, s.tensor]));
  }

  /** Current parameters as ort tensors, to feed other sessions (scoring, generation) without copies. */
  paramFeeds(): Record<string, ort.Tensor> {
    this.#checkIntact("read the parameters of");
    return Object.fromEntries([...this.#params].map(([k, s]) => [k, s.ort]));
  }

  /** Replaces parameter values (same names and shapes; copied into the trainer's buffers); optimizer state is kept. */
  setParams(values: Record<string, Tensor>): void {
    for (const [name, t] of Object.entries(values)) {
      const spec = this.#shapes.get(name);
      if (spec === undefined) throw new TrainerError(`Cannot set parameter "${name}": no such parameter`);
      if (t.dtype !== "float32" || t.shape.join() !== spec.shape.join()) {
        throw new TrainerError(
          `Cannot set parameter "${name}": got ${t.dtype}[${t.shape}], expected float32[${spec.shape}]`,
        );
      }
    }
    for (const [name, t] of Object.entries(values)) {
      this.#params.get(name)!.data.set(t.data as Float32Array);
      this.#damage?.params.delete(name);
    }
    this.#clearRestoredDamage();
  }

  /** Optimizer state (moments and step count) for checkpoints; the moments are live views like `params()`. */
  state(): { step: number; m: Record<string, Tensor>; v: Record<string, Tensor> } {
    this.#checkIntact("read the optimizer state of");
    const conv = (r: Map<string, Slot>) => Object.fromEntries([...r].map(([k, s]) => [k, s.tensor]));
    return { step: this.#step, m: conv(this.#m), v: conv(this.#v) };
  }

  /** Restores optimizer state saved by `state()` (copied into the trainer's buffers). */
  loadState(state: { step: number; m: Record<string, Tensor>; v: Record<string, Tensor> }): void {
    for (const name of this.#trainable) {
      const spec = this.#shapes.get(name)!;
      for (const [which, r] of [["m", state.m], ["v", state.v]] as const) {
        const t = r[name];
        if (t === undefined || t.dtype !== "float32" || t.shape.join() !== spec.shape.join()) {
          throw new TrainerError(`Cannot load optimizer state: "${which}" of "${name}" is missing or mis-shaped`);
        }
      }
    }
    for (const name of this.#trainable) {
      this.#m.get(name)!.data.set(state.m[name]!.data as Float32Array);
      this.#v.get(name)!.data.set(state.v[name]!.data as Float32Array);
    }
    this.#step = state.step;
    if (this.#damage !== null) this.#damage.state = false;
    this.#clearRestoredDamage();
  }

  /**
   * Refuses to hand out or step from state that a failed update left partly applied; the error says what to
   * restore.
   */
  #checkIntact(what: string): void {
    if (this.#damage === null) return;
    const left = [
      ...(this.#damage.params.size > 0 ? [`${this.#damage.params.size} parameters (setParams)`] : []),
      ...(this.#damage.state ? ["the optimizer state (loadState)"] : []),
    ];
    throw new TrainerError(
      `Cannot ${what} "${this.name}": ${this.#damage.error.message}; still to restore: ${left.join(" and ")}`,
      { cause: this.#damage.error },
    );
  }

  #clearRestoredDamage(): void {
    if (this.#damage !== null && this.#damage.params.size === 0 && !this.#damage.state) this.#damage = null;
  }

  /** Runs one optimizer step over one batch or several micro-batches (gradients are averaged); calls queue up. */
  async step(
    batch: Record<string, Tensor> | readonly Record<string, Tensor>[],
    options: StepOptions,
  ): Promise<StepReport> {
    const micro = Array.isArray(batch) ? batch : [batch as Record<string, Tensor>];
    if (micro.length === 0) throw new TrainerError(`Cannot step "${this.name}": no micro-batches given`);
    if (!Number.isFinite(options.lr)) {
      throw new TrainerError(`Cannot step "${this.name}": lr ${options.lr} is not finite`);
    }
    for (const b of micro) this.#batchFeeds(b);
    // Steps read and replace the state, so overlapping calls are queued rather than interleaved; each checks the
    // state when its turn comes (a step queued behind one that failed partway must not run).
    const run = this.#queue.then(() => {
      this.#checkIntact("step");
      return this.update === "graph" ? this.#runFusedStep(micro, options.lr) : this.#runInPlaceStep(micro, options.lr);
    });
    this.#queue = run.catch(() => {});
    return await run;
  }

  async #runInPlaceStep(micro: readonly Record<string, Tensor>[], lr: number): Promise<StepReport> {
    const k = micro.length;
    const grads = this.#gradSlots();
    const metrics = new MetricSums();
    let lossSum = 0;
    let sumsq = NaN;
    const started = performance.now();
    for (let i = 0; i < k; i++) {
      const r = await this.#runGradGraph(micro[i]!, grads, { accumulate: i > 0, norm: i === k - 1 }, metrics);
      lossSum += r.loss;
      sumsq = r.sumsq;
      // The run's outputs (copies of the gradients, see session/gc.ts) are unreachable now.
      if (this.#gradBytes >= GC_BYTES) collectGarbage();
    }
    const loss = lossSum / k;
    const gradNorm = Math.sqrt(sumsq) / k;
    const ok = Number.isFinite(loss) && Number.isFinite(gradNorm);
    const graphDone = performance.now();
    if (ok) {
      const gradScale = clipCoefficient(gradNorm, this.#adamw.maxGradNorm) / k;
      const tensors = [...grads].map(([name, grad]) => ({
        buffers: {
          param: this.#params.get(name)!.data,
          grad: grad.data,
          m: this.#m.get(name)!.data,
          v: this.#v.get(name)!.data,
        },
        decays: this.#decays.get(name)!,
      }));
      const { decays: _, ...hyper } = this.#adamw;
      try {
        await this.#pool.update(tensors, { lr, step: this.#step + 1, gradScale }, hyper);
      } catch (e) {
        // Some ranges were updated and some not: neither the old nor the new state. Nothing reads it until restored.
        const error = new TrainerError(
          `step ${this.#step + 1} failed in its AdamW update (${(e as Error).message}), leaving the parameters and ` +
            `optimizer state partly updated`,
          { cause: e },
        );
        this.#damage = { error, params: new Set(this.#params.keys()), state: true };
        throw error;
      }
      this.#step++;
    }
    const updateThreads = ok ? this.#pool.lastThreads : 0;
    const timing = { graphMs: graphDone - started, updateMs: performance.now() - graphDone, updateThreads };
    return { loss, gradNorm, skipped: !ok, step: this.#step, metrics: metrics.mean(k), timing };
  }

  /** One gradient-graph run into the gradient buffers (rows added); its loss and, with `norm`, the sum of squares. */
  async #runGradGraph(
    batch: Record<string, Tensor>,
    grads: Map<string, Slot>,
    kind: GradGraphKind,
    metrics: MetricSums,
  ): Promise<{ loss: number; sumsq: number }> {
    const session = await this.#gradSession(kind, batch);
    const feeds: Record<string, ort.Tensor> = { ...this.paramFeeds(), ...this.#batchFeeds(batch) };
    // Output `grad.<name>` goes into the trainer's gradient buffer; when accumulating it is also the input.
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const out of session.outputNames) fetches[out] = null;
    for (const [name, slot] of grads) {
      fetches[`grad.${name}`] = slot.ort;
      if (kind.accumulate) feeds[`acc.${name}`] = slot.ort;
    }
    const out = await session.run(feeds, fetches);
    const rowsSumsq = this.#addScatteredRows(out, grads, kind.norm);
    metrics.add(out);
    return { loss: scalar(out.loss!), sumsq: kind.norm ? scalar(out.sumsq!) + rowsSumsq : NaN };
  }

  async #runFusedStep(micro: readonly Record<string, Tensor>[], lr: number): Promise<StepReport> {
    const k = micro.length;
    const started = performance.now();
    const metrics = new MetricSums();
    let acc: Record<string, ort.Tensor> = {};
    let accLoss = f32(0);
    const zeros = (name: string) => new Slot(this.#shapes.get(name)!.shape).ort;
    for (let i = 0; i < k - 1; i++) {
      const session = await this.#fusedSession("accumulate", micro[i]!);
      const feeds: Record<string, ort.Tensor> = { ...this.paramFeeds(), ...this.#batchFeeds(micro[i]!) };
      feeds.acc_loss = accLoss;
      for (const name of this.#trainable) feeds[`acc.${name}`] = acc[`next.acc.${name}`] ?? zeros(name);
      acc = await session.run(feeds);
      accLoss = acc["next.acc_loss"]!;
      metrics.add(acc);
    }
    const session = await this.#fusedSession(k > 1 ? "step_acc" : "step", micro[k - 1]!);
    const feeds: Record<string, ort.Tensor> = {
      ...this.paramFeeds(),
      ...this.#batchFeeds(micro[k - 1]!),
      lr: f32(lr),
      step: f32(this.#step + 1),
    };
    for (const name of this.#trainable) {
      feeds[`adamw.m.${name}`] = this.#m.get(name)!.ort;
      feeds[`adamw.v.${name}`] = this.#v.get(name)!.ort;
      if (k > 1) feeds[`acc.${name}`] = acc[`next.acc.${name}`]!;
    }
    if (k > 1) {
      feeds.acc_loss = accLoss;
      feeds.inv_micro_batches = f32(1 / k);
    }
    const out = await session.run(feeds);
    metrics.add(out);
    const ok = scalar(out.ok!) !== 0;
    if (ok) {
      for (const name of this.#trainable) {
        this.#params.get(name)!.replace(out[`next.${name}`]!);
        this.#m.get(name)!.replace(out[`next.adamw.m.${name}`]!);
        this.#v.get(name)!.replace(out[`next.adamw.v.${name}`]!);
      }
      this.#step++;
    }
    return {
      loss: scalar(out.loss!),
      gradNorm: scalar(out.grad_norm!),
      skipped: !ok,
      step: this.#step,
      metrics: metrics.mean(k),
      timing: { graphMs: performance.now() - started, updateMs: 0, updateThreads: 0 },
    };
  }

  /** Compiles (and caches) the step graphs for this batch shape ahead of time. */
  async compile(batch: Record<string, Tensor>, options: { microBatches?: number } = {}): Promise<void> {
    const multi = (options.microBatches ?? 1) > 1;
    if (this.update === "graph") {
      await this.#fusedSession(multi ? "step_acc" : "step", batch);
      if (multi) await this.#fusedSession("accumulate", batch);
      return;
    }
    await this.#gradSession({ accumulate: false, norm: !multi }, batch);
    if (multi) await this.#gradSession({ accumulate: true, norm: true }, batch);
  }

  /** The ONNX model of the fused step graph for this batch shape (for inspection and benchmarks). */
  model(batch: Record<string, Tensor>, kind: StepGraphKind = "step"): Uint8Array {
    return buildFusedStepGraph(this.#spec(batch), kind, this.#adamw);
  }

  /** Frees every cached session and ends the update's worker threads. */
  async release(): Promise<void> {
    // A step in flight finishes first: closing the pool under its update would leave a partly applied step.
    await this.#queue;
    await this.#pool.close();
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const s of sessions) await s.then((session) => session.release(), () => {});
  }

  /** Adds the rows a split gradient graph returned (`rows.<name>.*`) into the gradient buffers; the sumsq change. */
  #addScatteredRows(out: Record<string, ort.Tensor>, grads: Map<string, Slot>, sumsq: boolean): number {
    let delta = 0;
    for (const [name, slot] of grads) {
      const indices = out[`rows.${name}.indices`];
      const updates = out[`rows.${name}.updates`];
      if (indices === undefined || updates === undefined) continue;
      const rowSize = updates.dims[1]!;
      delta += addRows(slot.data, indices.data as BigInt64Array, updates.data as Float32Array, rowSize, sumsq);
    }
    return delta;
  }

  #gradSlots(): Map<string, Slot> {
    // Allocated at the first step, not in the constructor: a trainer that never steps (a checkpoint loader) and
    // the graph path need no gradient buffers.
    if (this.#grads === null) {
      this.#grads = new Map(this.#trainable.map((name) => [name, new Slot(this.#shapes.get(name)!.shape)]));
      this.#gradBytes = [...this.#grads.values()].reduce((n, s) => n + s.data.byteLength, 0);
      // The caller's parameter tensors, copied in the constructor, are usually garbage by now: free them before
      // the first run needs the room.
      if (this.#gradBytes >= GC_BYTES) collectGarbage();
    }
    return this.#grads;
  }

  #batchFeeds(batch: Record<string, Tensor>): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(batch)) {
      if (RESERVED.test(name) || this.#shapes.has(name)) {
        throw new TrainerError(
          `Cannot feed batch input "${name}" to "${this.name}": the name is reserved or a parameter`,
        );
      }
      feeds[name] = toOrt(t);
    }
    return feeds;
  }

  #spec(batch: Record<string, Tensor>): StepGraphSpec {
    const spec = Object.keys(batch).sort().map((
      name,
    ): [string, DType, Shape] => [name, batch[name]!.dtype, batch[name]!.shape]);
    return { name: this.name, loss: this.#loss, shapes: this.#shapes, trainable: this.#trainable, batch: spec };
  }

  #gradSession(kind: GradGraphKind, batch: Record<string, Tensor>): Promise<Session> {
    const spec = this.#spec(batch);
    return this.#cached(
      `grads|${kind.accumulate}|${kind.norm}|${JSON.stringify(spec.batch)}`,
      "grads",
      () => buildGradGraph(spec, kind),
    );
  }

  #fusedSession(kind: StepGraphKind, batch: Record<string, Tensor>): Promise<Session> {
    const spec = this.#spec(batch);
    return this.#cached(
      `${kind}|${JSON.stringify(spec.batch)}`,
      kind,
      () => buildFusedStepGraph(spec, kind, this.#adamw),
    );
  }

  #cached(key: string, label: string, build: () => Uint8Array): Promise<Session> {
    let session = this.#sessions.get(key);
    if (session === undefined) {
      session = createSession(build(), { ...this.#sessionOptions, name: `${this.name}/${label}` });
      this.#sessions.set(key, session);
      session.catch(() => this.#sessions.delete(key));
    }
    return session;
  }
}

/** Sums of the `metric.*` outputs over micro-batches. */
class MetricSums {
  #sums: Record<string, number> = {};
  add(out: Record<string, ort.Tensor>): void {
    for (const [key, t] of Object.entries(out)) {
      if (key.startsWith("metric.")) this.#sums[key.slice(7)] = (this.#sums[key.slice(7)] ?? 0) + scalar(t);
    }
  }
  mean(k: number): Record<string, number> {
    return Object.fromEntries(Object.entries(this.#sums).map(([key, v]) => [key, v / k]));
  }
}
