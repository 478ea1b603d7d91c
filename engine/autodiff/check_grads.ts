/**
 * Finite-difference gradient checking (in the spirit of JAX's `check_grads`): the function's output is contracted
 * with a fixed random tensor to a scalar, its analytic gradient comes from `gradients`, and each input element is
 * nudged by +-eps through the same onnxruntime session (central differences).
 */
import { type DType, Rng, type Tensor, tensor } from "../../shared/mod.ts";
import { Graph, isFloat, op, type Sym, toOnnx } from "../graph/mod.ts";
import { createSession, fromOrt, type SessionOptions } from "../session/mod.ts";
import { gradients } from "./backward.ts";

/** A tensor of uniform values in [lo, hi), drawn from a seeded `Rng` so tests stay reproducible. */
export function randomTensor(dtype: DType, shape: readonly number[], rng: Rng, lo = -1, hi = 1): Tensor {
  const n = shape.reduce((p, q) => p * q, 1);
  return tensor(dtype, shape, Array.from({ length: n }, () => lo + (hi - lo) * rng.next()));
}

/** Options of `checkGrads`. */
export interface CheckGradsOptions {
  /** Finite-difference step (default 1e-6 for float64, 1e-2 for float32). */
  eps?: number;
  /** Relative tolerance (default 1e-5 for float64, 2e-2 for float32). */
  rtol?: number;
  /** Absolute tolerance (default 1e-7 for float64, 2e-3 for float32). */
  atol?: number;
  /** Seed of the random contraction. */
  seed?: number;
  /** Indices of the inputs to differentiate (default: every float input). */
  wrt?: readonly number[];
  /** Session options (default: cpu, 1 thread). */
  session?: SessionOptions;
}

/** The outcome of a check: the worst element's error relative to its tolerance (ok when <= 1). */
export interface CheckGradsReport {
  ok: boolean;
  worstRatio: number;
  worst: { input: number; index: number; analytic: number; numeric: number } | undefined;
}

/** Compares the analytic gradient of `build(inputs)` with central finite differences. */
export async function checkGrads(
  build: (g: Graph, xs: Sym[]) => Sym,
  inputs: readonly Tensor[],
  options: CheckGradsOptions = {},
): Promise<CheckGradsReport> {
  const g = new Graph("check_grads");
  const xs = inputs.map((t, i) => g.input(`x${i}`, t.dtype, t.shape));
  const y = build(g, xs);
  const r = g.constant(randomTensor(y.dtype, y.shape, new Rng(options.seed ?? 7)));
  const prod = op.mul(y, r);
  const loss = y.rank === 0 ? prod : op.reduceSum(prod, y.shape.map((_, i) => i));
  const wrt = options.wrt ?? inputs.flatMap((t, i) => (isFloat(t.dtype) ? [i] : []));
  const grads = gradients(loss, wrt.map((i) => xs[i]!));
  g.output("loss", loss);
  grads.forEach((s, k) => g.output(`grad${k}`, s));
  const session = await createSession(toOnnx(g), { intraOpThreads: 1, ...options.session, name: "check_grads" });
  try {
    const f64 = y.dtype === "float64";
    const eps = options.eps ?? (f64 ? 1e-6 : 1e-2);
    const rtol = options.rtol ?? (f64 ? 1e-5 : 2e-2);
    const atol = options.atol ?? (f64 ? 1e-7 : 2e-3);
    const feeds = Object.fromEntries(inputs.map((t, i) => [`x${i}`, t]));
    const analytic = await session.runTensors(feeds);
    const lossAt = async (): Promise<number> => Number(fromOrt((await session.run(feeds, ["loss"])).loss!).data[0]);
    let worst: CheckGradsReport["worst"];
    let worstRatio = 0;
    for (const [k, i] of wrt.entries()) {
      const data = inputs[i]!.data as Float64Array | Float32Array;
      const grad = analytic[`grad${k}`]!.data as Float64Array | Float32Array;
      for (let j = 0; j < data.length; j++) {
        const keep = data[j]!;
        data[j] = keep + eps;
        const up = await lossAt();
        data[j] = keep - eps;
        const down = await lossAt();
        data[j] = keep;
        const numeric = (up - down) / (2 * eps);
        const ratio = Math.abs(grad[j]! - numeric) / (atol + rtol * Math.abs(numeric));
        if (!(ratio <= worstRatio)) {
          worstRatio = Number.isNaN(ratio) ? Infinity : ratio;
          worst = { input: i, index: j, analytic: grad[j]!, numeric };
        }
      }
    }
    return { ok: worstRatio <= 1, worstRatio, worst };
  } finally {
    await session.release();
  }
}
