/**
 * One compiled training step: the user's loss, its gradients and the AdamW update in one ONNX graph, so one
 * `session.run` is one optimizer step. Parameters and optimizer state live in onnxruntime tensors: each step's
 * outputs are fed back as the next step's inputs. Shapes are static; one session is compiled per batch shape (a
 * bucket) and cached. With several micro-batches, all but the last run an "accumulate" graph (gradients summed into
 * buffers that are also fed back) and the last runs the step graph, which adds the accumulated sums before clipping.
 *
 * Why static buckets rather than dynamic dims: creating a session for the small benchmark model took 0.2-0.35 s
 * against 0.25-0.6 s per step, so a bucket pays for itself within one step, while dynamic dims would turn every
 * reshape target and broadcast reduction into run-time shape arithmetic to save at most 15 padded tokens per row
 * (lengths padded to multiples of 16 with `bucketLength`).
 *
 * Skipping a non-finite step needs no selects in the graph: onnxruntime writes outputs to fresh buffers and never
 * touches inputs, so when the graph reports `ok = false` the trainer simply keeps feeding the previous parameter and
 * moment tensors.
 */
import type * as ort from "onnxruntime-node";
import { CoopError } from "../../shared/errors.ts";
import { type DType, Tensor } from "../../shared/tensor.ts";
import { gradients } from "../autodiff/backward.ts";
import { Graph, GraphBuildError, type Shape, Sym } from "../graph/graph.ts";
import * as op from "../graph/ops.ts";
import { toOnnx } from "../graph/onnx.ts";
import { type AdamWOptions, adamwTerms, adamwUpdate, globalNorm, isFinite } from "../optim/adamw.ts";
import { createSession, fromOrt, type Session, type SessionOptions, toOrt } from "../session/session.ts";

/** What a loss function returns: a scalar loss and optional scalar metrics reported with each step. */
export interface LossOutputs {
  loss: Sym;
  metrics?: Record<string, Sym>;
}

/** Builds the loss from parameter and batch inputs (called once per batch shape). */
export type LossFn = (g: Graph, params: Record<string, Sym>, batch: Record<string, Sym>) => Sym | LossOutputs;

/** Options of `Trainer`. */
export interface TrainerOptions {
  /** The loss graph. */
  loss: LossFn;
  /** Initial float32 parameters by name. */
  params: Record<string, Tensor>;
  /** Names of the parameters to train (default: all); the others are inputs only. */
  trainable?: readonly string[];
  /** AdamW hyper-parameters (learning rate is passed to each step). */
  adamw?: AdamWOptions;
  /** onnxruntime session options (execution provider, threads). */
  session?: SessionOptions;
  /** Name used in errors and session names (default "trainer"). */
  name?: string;
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
}

/** Raised for bad batches, parameters or state handed to a trainer. */
export class TrainerError extends CoopError {
  override name = "TrainerError";
}

/** Rounds a length up to a multiple of `multiple` (the bucket a sequence is padded to). */
export function bucketLength(length: number, multiple = 16): number {
  return Math.max(multiple, Math.ceil(length / multiple) * multiple);
}

/** Which graph: a plain step, the last micro-batch's step (adds accumulated gradients), or an accumulation. */
export type StepGraphKind = "step" | "step_acc" | "accumulate";
type Kind = StepGraphKind;
const RESERVED = /^(lr|step|inv_micro_batches|acc_loss|loss|grad_norm|ok)$|^(acc|adamw|next|metric)\./;

function scalar(t: ort.Tensor): number {
  return Number((t.data as ArrayLike<number | bigint>)[0]);
}

function f32(value: number): ort.Tensor {
  return toOrt(new Tensor("float32", [], Float32Array.of(value)));
}

/** A model's training loop state with a compiled step per batch shape. */
export class Trainer {
  readonly name: string;
  #loss: LossFn;
  #adamw: AdamWOptions;
  #sessionOptions: SessionOptions;
  #shapes = new Map<string, { dtype: DType; shape: Shape }>();
  #trainable: string[];
  #params: Record<string, ort.Tensor> = {};
  #m: Record<string, ort.Tensor> = {};
  #v: Record<string, ort.Tensor> = {};
  #zeros: Record<string, ort.Tensor> = {};
  #step = 0;
  #sessions = new Map<string, Promise<Session>>();
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: TrainerOptions) {
    this.name = options.name ?? "trainer";
    this.#loss = options.loss;
    this.#adamw = options.adamw ?? {};
    this.#sessionOptions = options.session ?? {};
    for (const [name, t] of Object.entries(options.params)) {
      if (t.dtype !== "float32") {
        throw new TrainerError(`Cannot train parameter "${name}": dtype ${t.dtype} is not float32`);
      }
      if (RESERVED.test(name)) throw new TrainerError(`Cannot train parameter "${name}": the name is reserved`);
      this.#shapes.set(name, { dtype: t.dtype, shape: t.shape });
      this.#params[name] = toOrt(t);
    }
    this.#trainable = [...(options.trainable ?? Object.keys(options.params))];
    for (const name of this.#trainable) {
      const spec = this.#shapes.get(name);
      if (spec === undefined) throw new TrainerError(`Cannot train "${name}": it is not among the parameters`);
      const zeros = () => toOrt(new Tensor("float32", spec.shape, new Float32Array(shapeSizeOf(spec.shape))));
      this.#m[name] = zeros();
      this.#v[name] = zeros();
      this.#zeros[name] = zeros();
    }
  }

  /** Number of updates applied. */
  get stepCount(): number {
    return this.#step;
  }

  /** Current parameters as Coop tensors (views of onnxruntime's buffers; do not mutate). */
  params(): Record<string, Tensor> {
    return Object.fromEntries(Object.entries(this.#params).map(([k, v]) => [k, fromOrt(v)]));
  }

  /** Current parameters as ort tensors, to feed other sessions (scoring, generation) without copies. */
  paramFeeds(): Record<string, ort.Tensor> {
    return { ...this.#params };
  }

  /** Replaces parameter values (same names and shapes); optimizer state is kept. */
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
    for (const [name, t] of Object.entries(values)) this.#params[name] = toOrt(t);
  }

  /** Optimizer state (moments and step count) for checkpoints. */
  state(): { step: number; m: Record<string, Tensor>; v: Record<string, Tensor> } {
    const conv = (r: Record<string, ort.Tensor>) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, fromOrt(v)]));
    return { step: this.#step, m: conv(this.#m), v: conv(this.#v) };
  }

  /** Restores optimizer state saved by `state()`. */
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
      this.#m[name] = toOrt(state.m[name]!);
      this.#v[name] = toOrt(state.v[name]!);
    }
    this.#step = state.step;
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
    // Steps read and replace the state tensors, so overlapping calls are queued rather than interleaved.
    const run = this.#queue.then(() => this.#runStep(micro, options.lr));
    this.#queue = run.catch(() => {});
    return await run;
  }

  async #runStep(micro: readonly Record<string, Tensor>[], lr: number): Promise<StepReport> {
    const k = micro.length;
    const metricSums: Record<string, number> = {};
    const addMetrics = (out: Record<string, ort.Tensor>) => {
      for (const [key, t] of Object.entries(out)) {
        if (key.startsWith("metric.")) metricSums[key.slice(7)] = (metricSums[key.slice(7)] ?? 0) + scalar(t);
      }
    };
    let acc: Record<string, ort.Tensor> = {};
    let accLoss = f32(0);
    for (let i = 0; i < k - 1; i++) {
      const session = await this.#session("accumulate", micro[i]!);
      const feeds: Record<string, ort.Tensor> = { ...this.#params, ...this.#batchFeeds(micro[i]!), acc_loss: accLoss };
      for (const name of this.#trainable) feeds[`acc.${name}`] = acc[`next.acc.${name}`] ?? this.#zeros[name]!;
      const out = await session.run(feeds);
      acc = out;
      accLoss = out["next.acc_loss"]!;
      addMetrics(out);
    }
    const last = micro[k - 1]!;
    const kind: Kind = k > 1 ? "step_acc" : "step";
    const session = await this.#session(kind, last);
    const feeds: Record<string, ort.Tensor> = {
      ...this.#params,
      ...this.#batchFeeds(last),
      lr: f32(lr),
      step: f32(this.#step + 1),
    };
    for (const name of this.#trainable) {
      feeds[`adamw.m.${name}`] = this.#m[name]!;
      feeds[`adamw.v.${name}`] = this.#v[name]!;
      if (k > 1) feeds[`acc.${name}`] = acc[`next.acc.${name}`]!;
    }
    if (k > 1) {
      feeds.acc_loss = accLoss;
      feeds.inv_micro_batches = f32(1 / k);
    }
    const out = await session.run(feeds);
    addMetrics(out);
    const ok = scalar(out.ok!) !== 0;
    if (ok) {
      for (const name of this.#trainable) {
        this.#params[name] = out[`next.${name}`]!;
        this.#m[name] = out[`next.adamw.m.${name}`]!;
        this.#v[name] = out[`next.adamw.v.${name}`]!;
      }
      this.#step++;
    }
    const metrics = Object.fromEntries(Object.entries(metricSums).map(([key, v]) => [key, v / k]));
    return { loss: scalar(out.loss!), gradNorm: scalar(out.grad_norm!), skipped: !ok, step: this.#step, metrics };
  }

  /** Compiles (and caches) the step graph for this batch shape ahead of time. */
  async compile(batch: Record<string, Tensor>, options: { microBatches?: number } = {}): Promise<void> {
    await this.#session((options.microBatches ?? 1) > 1 ? "step_acc" : "step", batch);
    if ((options.microBatches ?? 1) > 1) await this.#session("accumulate", batch);
  }

  /** The ONNX model of a step graph for this batch shape (for inspection and benchmarks). */
  model(batch: Record<string, Tensor>, kind: Kind = "step"): Uint8Array {
    return this.#build(kind, specOf(batch));
  }

  /** Frees every cached session. */
  async release(): Promise<void> {
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    for (const s of sessions) await s.then((session) => session.release(), () => {});
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

  #session(kind: Kind, batch: Record<string, Tensor>): Promise<Session> {
    const spec = specOf(batch);
    const key = `${kind}|${JSON.stringify(spec)}`;
    let session = this.#sessions.get(key);
    if (session === undefined) {
      session = createSession(this.#build(kind, spec), { ...this.#sessionOptions, name: `${this.name}/${kind}` });
      this.#sessions.set(key, session);
      session.catch(() => this.#sessions.delete(key));
    }
    return session;
  }

  #build(kind: Kind, spec: [string, DType, Shape][]): Uint8Array {
    const g = new Graph(`${this.name}_${kind}`);
    const params: Record<string, Sym> = {};
    for (const [name, s] of this.#shapes) params[name] = g.input(name, s.dtype, s.shape);
    const batch: Record<string, Sym> = {};
    for (const [name, dtype, shape] of spec) batch[name] = g.input(name, dtype, shape);
    const built = this.#loss(g, params, batch);
    const { loss, metrics = {} } = built instanceof Sym ? { loss: built } : built;
    if (loss.size !== 1 || loss.dtype !== "float32") {
      throw new GraphBuildError(`Cannot train on loss ${loss}: it must be a float32 scalar`);
    }
    const scalarLoss = op.reshape(loss, []);
    const trainable = this.#trainable.map((n) => params[n]!);
    const grads = gradients(scalarLoss, trainable);
    for (const [key, sym] of Object.entries(metrics)) {
      g.output(`metric.${key}`, op.reshape(op.cast(sym, "float32"), []));
    }

    if (kind === "accumulate") {
      const accLoss = g.input("acc_loss", "float32", []);
      g.output("next.acc_loss", op.add(accLoss, scalarLoss));
      this.#trainable.forEach((name, i) => {
        const acc = g.input(`acc.${name}`, "float32", params[name]!.shape);
        g.output(`next.acc.${name}`, op.add(acc, grads[i]!));
      });
      return toOnnx(g);
    }
    const lr = g.input("lr", "float32", []);
    const stepNo = g.input("step", "float32", []);
    let total = grads;
    let meanLoss = scalarLoss;
    let invK = g.scalar(1);
    if (kind === "step_acc") {
      invK = g.input("inv_micro_batches", "float32", []);
      const accLoss = g.input("acc_loss", "float32", []);
      meanLoss = op.mul(op.add(accLoss, scalarLoss), invK);
      total = this.#trainable.map((name, i) =>
        op.add(g.input(`acc.${name}`, "float32", params[name]!.shape), grads[i]!)
      );
    }
    // Squares are shared by the norm and the second-moment update.
    const squares = total.map((t) => op.mul(t, t));
    const norm = op.mul(globalNorm(squares), invK);
    const ok = op.and(isFinite(meanLoss), isFinite(norm));
    const maxNorm = this.#adamw.maxGradNorm;
    // torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), clamped to 1.
    const clip = maxNorm === undefined ? g.scalar(1) : op.min(op.div(maxNorm, op.add(norm, 1e-6)), 1);
    const terms = adamwTerms({ lr, step: stepNo, gradScale: op.mul(clip, invK) }, this.#adamw);
    this.#trainable.forEach((name, i) => {
      const m = g.input(`adamw.m.${name}`, "float32", params[name]!.shape);
      const v = g.input(`adamw.v.${name}`, "float32", params[name]!.shape);
      const next = adamwUpdate(
        name,
        { param: params[name]!, grad: total[i]!, gradSq: squares[i], m, v },
        terms,
        this.#adamw,
      );
      g.output(`next.${name}`, next.param);
      g.output(`next.adamw.m.${name}`, next.m);
      g.output(`next.adamw.v.${name}`, next.v);
    });
    g.output("loss", meanLoss);
    g.output("grad_norm", norm);
    g.output("ok", ok);
    return toOnnx(g);
  }
}

function shapeSizeOf(shape: Shape): number {
  return shape.reduce((p, q) => p * q, 1);
}

function specOf(batch: Record<string, Tensor>): [string, DType, Shape][] {
  return Object.keys(batch).sort().map((name) => [name, batch[name]!.dtype, batch[name]!.shape]);
}
