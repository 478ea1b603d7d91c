/**
 * The ONNX graphs a `Trainer` runs. Two families:
 *
 * - Gradient graphs (the default, in-place update): loss, metrics, every trainable parameter's gradient and the
 *   global sum of squared gradients. The gradients are written into buffers the trainer allocates once (pre-allocated
 *   fetches); with micro-batches the accumulating variant takes the running sums as `acc.<name>` inputs and writes
 *   `acc + grad` back into the same buffers. AdamW then runs in JS over the trainer's own buffers
 *   (optim/adamw_inplace.ts), so parameters, gradients and moments each exist once, as in PyTorch.
 * - Fused step graphs (`update: "graph"`): forward, backward, clipping and AdamW in one graph that returns new
 *   parameters and moments (state is held twice while a step runs); kept as the reference the in-place path is
 *   tested against.
 */
import type { DType } from "../../shared/mod.ts";
import { gradients } from "../autodiff/mod.ts";
import { Graph, GraphBuildError, op, type Shape, Sym, toOnnx } from "../graph/mod.ts";
import { splitRowScatter } from "./row_scatter.ts";
import { type AdamWOptions, adamwTerms, adamwUpdate, globalNorm, isFinite } from "../optim/mod.ts";

/** What a loss function returns: a scalar loss and optional scalar metrics reported with each step. */
export interface LossOutputs {
  loss: Sym;
  metrics?: Record<string, Sym>;
}

/** Builds the loss from parameter and batch inputs (called once per batch shape). */
export type LossFn = (g: Graph, params: Record<string, Sym>, batch: Record<string, Sym>) => Sym | LossOutputs;

/** Which fused graph: a plain step, the last micro-batch's step (adds accumulated gradients), or an accumulation. */
export type StepGraphKind = "step" | "step_acc" | "accumulate";

/** Which gradient graph: `accumulate` adds `acc.<name>` inputs; `norm` emits the global sum of squares. */
export interface GradGraphKind {
  accumulate: boolean;
  norm: boolean;
}

/** Everything a step graph is built from. */
export interface StepGraphSpec {
  name: string;
  loss: LossFn;
  shapes: ReadonlyMap<string, { dtype: DType; shape: Shape }>;
  trainable: readonly string[];
  batch: readonly [string, DType, Shape][];
}

function lossGraph(spec: StepGraphSpec, suffix: string) {
  const g = new Graph(`${spec.name}_${suffix}`);
  const params: Record<string, Sym> = {};
  for (const [name, s] of spec.shapes) params[name] = g.input(name, s.dtype, s.shape);
  const batch: Record<string, Sym> = {};
  for (const [name, dtype, shape] of spec.batch) batch[name] = g.input(name, dtype, shape);
  const built = spec.loss(g, params, batch);
  const { loss, metrics = {} } = built instanceof Sym ? { loss: built } : built;
  if (loss.size !== 1 || loss.dtype !== "float32") {
    throw new GraphBuildError(`Cannot train on loss ${loss}: it must be a float32 scalar`);
  }
  const scalarLoss = op.reshape(loss, []);
  const grads = gradients(scalarLoss, spec.trainable.map((n) => params[n]!));
  for (const [key, sym] of Object.entries(metrics)) {
    g.output(`metric.${key}`, op.reshape(op.cast(sym, "float32"), []));
  }
  return { g, params, loss: scalarLoss, grads };
}

/** Sum of x² over every element, as one ReduceSumSquare (no x² temporary the size of x). */
function sumOfSquares(x: Sym): Sym {
  return op.custom("ReduceSumSquare", [x], { keepdims: { int: 0 } }, [{ dtype: "float32", shape: [] }])[0]!;
}

/**
 * The gradient graph: outputs `loss`, `metric.*`, `grad.<name>` and (with `norm`) `sumsq`. A gradient that ends in
 * a row scatter-add (a tied embedding) is returned split: `grad.<name>` holds its dense part and
 * `rows.<name>.indices` / `rows.<name>.updates` the rows the trainer adds (train/row_scatter.ts); `sumsq` then
 * covers the dense part only.
 */
export function buildGradGraph(spec: StepGraphSpec, kind: GradGraphKind): Uint8Array {
  const { g, params, loss, grads } = lossGraph(spec, kind.accumulate ? "grads_acc" : "grads");
  const totals = spec.trainable.map((name, i) => {
    const split = splitRowScatter(grads[i]!);
    if (split !== null) {
      const n = split.indices.size;
      g.output(`rows.${name}.indices`, op.reshape(split.indices, [n]));
      g.output(`rows.${name}.updates`, op.reshape(split.updates, [n, -1]));
    }
    const grad = split?.dense ?? grads[i]!;
    return kind.accumulate ? op.add(g.input(`acc.${name}`, "float32", params[name]!.shape), grad) : grad;
  });
  spec.trainable.forEach((name, i) => g.output(`grad.${name}`, totals[i]!));
  if (kind.norm) {
    let sumsq: Sym | undefined;
    for (const t of totals) sumsq = sumsq === undefined ? sumOfSquares(t) : op.add(sumsq, sumOfSquares(t));
    if (sumsq === undefined) throw new GraphBuildError(`Cannot build "${spec.name}": nothing is trainable`);
    g.output("sumsq", sumsq);
  }
  g.output("loss", loss);
  return toOnnx(g);
}

/** The fused step graph (forward, backward, clipping and AdamW; new state as outputs). */
export function buildFusedStepGraph(spec: StepGraphSpec, kind: StepGraphKind, adamw: AdamWOptions): Uint8Array {
  const { g, params, loss: scalarLoss, grads } = lossGraph(spec, kind);
  if (kind === "accumulate") {
    const accLoss = g.input("acc_loss", "float32", []);
    g.output("next.acc_loss", op.add(accLoss, scalarLoss));
    spec.trainable.forEach((name, i) => {
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
    total = spec.trainable.map((name, i) => op.add(g.input(`acc.${name}`, "float32", params[name]!.shape), grads[i]!));
  }
  // Squares are shared by the norm and the second-moment update.
  const squares = total.map((t) => op.mul(t, t));
  const norm = op.mul(globalNorm(squares), invK);
  const ok = op.and(isFinite(meanLoss), isFinite(norm));
  const maxNorm = adamw.maxGradNorm;
  // torch.nn.utils.clip_grad_norm_: coefficient max_norm / (norm + 1e-6), clamped to 1.
  const clip = maxNorm === undefined ? g.scalar(1) : op.min(op.div(maxNorm, op.add(norm, 1e-6)), 1);
  const terms = adamwTerms({ lr, step: stepNo, gradScale: op.mul(clip, invK) }, adamw);
  spec.trainable.forEach((name, i) => {
    const m = g.input(`adamw.m.${name}`, "float32", params[name]!.shape);
    const v = g.input(`adamw.v.${name}`, "float32", params[name]!.shape);
    const next = adamwUpdate(name, { param: params[name]!, grad: total[i]!, gradSq: squares[i], m, v }, terms, adamw);
    g.output(`next.${name}`, next.param);
    g.output(`next.adamw.m.${name}`, next.m);
    g.output(`next.adamw.v.${name}`, next.v);
  });
  g.output("loss", meanLoss);
  g.output("grad_norm", norm);
  g.output("ok", ok);
  return toOnnx(g);
}
