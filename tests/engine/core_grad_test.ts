/**
 * Every gradient rule (and the compositions models rely on) against central finite differences on random inputs,
 * through real onnxruntime sessions. float64 throughout, except where noted: onnxruntime's CPU kernels lack float64
 * for those ops, so they run in float32 with eps 1e-2, rtol 2e-2, atol 2e-3 (checkGrads' float32 defaults).
 */
import { Rng } from "../../shared/mod.ts";
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { checkGrads, gradients, MissingGradRuleError, randomTensor, RULES } from "../../engine/autodiff/mod.ts";
import { Graph, GraphShapeError, nn, op, type Sym, tensorOf, toOnnx } from "../../engine/graph/mod.ts";
import { createSession } from "../../engine/session/mod.ts";
import { type DType, type Tensor, tensor } from "../../shared/tensor.ts";

const next = new Rng(1234);
const f = (shape: number[], lo = -1, hi = 1, dtype: DType = "float64") => randomTensor(dtype, shape, next, lo, hi);
const i64 = (shape: number[], values: number[]) => tensor("int64", shape, values);

interface Case {
  name: string;
  /** The ONNX ops whose rules this case exercises. */
  ops: string[];
  inputs: () => Tensor[];
  build: (g: Graph, xs: Sym[]) => Sym;
  wrt?: number[];
  eps?: number;
  rtol?: number;
  atol?: number;
}

function causalMask(g: Graph, t: number): Sym {
  const values = Array.from({ length: t * t }, (_, k) => (k % t <= Math.floor(k / t) ? 1 : 0));
  return g.constant(tensorOf("bool", [t, t], values));
}

function rotateHalf(x: Sym): Sym {
  const d = x.shape[x.rank - 1]!;
  const x1 = op.slice(x, { starts: [0], ends: [d / 2], axes: [-1] });
  const x2 = op.slice(x, { starts: [d / 2], ends: [d], axes: [-1] });
  return op.concat([op.neg(x2), x1], -1);
}

const CASES: Case[] = [
  { name: "Add broadcast", ops: ["Add"], inputs: () => [f([2, 3]), f([3])], build: (_, [a, b]) => op.add(a!, b!) },
  {
    name: "Sub broadcast both ways",
    ops: ["Sub"],
    inputs: () => [f([2, 1, 3]), f([4, 1])],
    build: (_, [a, b]) => op.sub(a!, b!),
  },
  { name: "Mul broadcast", ops: ["Mul"], inputs: () => [f([2, 3]), f([1, 3])], build: (_, [a, b]) => op.mul(a!, b!) },
  { name: "Div", ops: ["Div"], inputs: () => [f([2, 3]), f([2, 3], 0.5, 1.5)], build: (_, [a, b]) => op.div(a!, b!) },
  {
    name: "Pow",
    ops: ["Pow"],
    inputs: () => [f([2, 3], 0.5, 2), f([2, 3], -1, 2)],
    build: (_, [a, b]) => op.pow(a!, b!),
  },
  { name: "Max", ops: ["Max"], inputs: () => [f([2, 3]), f([3])], build: (_, [a, b]) => op.max(a!, b!) },
  { name: "Min", ops: ["Min"], inputs: () => [f([2, 3]), f([2, 3])], build: (_, [a, b]) => op.min(a!, b!) },
  { name: "Neg", ops: ["Neg"], inputs: () => [f([5])], build: (_, [a]) => op.neg(a!) },
  { name: "Exp", ops: ["Exp"], inputs: () => [f([5])], build: (_, [a]) => op.exp(a!) },
  { name: "Log", ops: ["Log"], inputs: () => [f([5], 0.2, 3)], build: (_, [a]) => op.log(a!) },
  { name: "Sqrt", ops: ["Sqrt"], inputs: () => [f([5], 0.2, 3)], build: (_, [a]) => op.sqrt(a!) },
  { name: "Reciprocal", ops: ["Reciprocal"], inputs: () => [f([5], 0.5, 2)], build: (_, [a]) => op.reciprocal(a!) },
  { name: "Tanh", ops: ["Tanh"], inputs: () => [f([5], -2, 2)], build: (_, [a]) => op.tanh(a!) },
  { name: "Sigmoid", ops: ["Sigmoid"], inputs: () => [f([5], -3, 3)], build: (_, [a]) => op.sigmoid(a!) },
  {
    name: "Abs and Sign",
    ops: ["Abs", "Sign"],
    inputs: () => [tensor("float64", [4], [-0.7, 0.3, 1.2, -2])],
    build: (_, [a]) => op.add(op.abs(a!), op.sign(a!)),
  },
  {
    name: "Relu",
    ops: ["Relu"],
    inputs: () => [tensor("float64", [4], [-0.7, 0.3, 1.2, -2])],
    build: (_, [a]) => op.relu(a!),
  },
  {
    name: "Sin and Cos",
    ops: ["Sin", "Cos"],
    inputs: () => [f([5], -3, 3)],
    build: (_, [a]) => op.mul(op.sin(a!), op.cos(a!)),
  },
  {
    name: "Where with broadcast condition",
    ops: ["Where"],
    inputs: () => [f([2, 3]), f([3])],
    build: (g, [a, b]) => op.where(g.constant(tensorOf("bool", [2, 1], [1, 0])), a!, b!),
  },
  {
    name: "Cast float64 -> float32 -> float64",
    ops: ["Cast"],
    inputs: () => [f([4])],
    build: (_, [a]) => op.cast(op.mul(op.cast(a!, "float32"), 2), "float64"),
    eps: 1e-3,
    rtol: 1e-3,
    atol: 1e-5,
  },
  {
    name: "MatMul 2-D",
    ops: ["MatMul"],
    inputs: () => [f([2, 3]), f([3, 4])],
    build: (_, [a, b]) => op.matmul(a!, b!),
  },
  {
    name: "MatMul batched",
    ops: ["MatMul"],
    inputs: () => [f([2, 2, 3]), f([2, 3, 4])],
    build: (_, [a, b]) => op.matmul(a!, b!),
  },
  {
    name: "MatMul batched activation x 2-D weight",
    ops: ["MatMul", "Transpose"],
    inputs: () => [f([2, 3, 4]), f([5, 4])],
    build: (_, [a, w]) => nn.linear(a!, w!),
  },
  {
    name: "MatMul batched activation x plain 2-D weight (rank 4)",
    ops: ["MatMul"],
    inputs: () => [f([2, 2, 3, 4]), f([4, 5])],
    build: (_, [a, w]) => op.matmul(a!, w!),
  },
  {
    name: "MatMul 2-D x batched (broadcast batch)",
    ops: ["MatMul"],
    inputs: () => [f([3, 4]), f([2, 4, 5])],
    build: (_, [a, b]) => op.matmul(a!, b!),
  },
  {
    name: "ReduceSum keepDims and not",
    ops: ["ReduceSum"],
    inputs: () => [f([2, 3, 4])],
    build: (_, [a]) => op.add(op.mul(a!, op.reduceSum(a!, [0, 2], { keepDims: true })), op.reduceSum(a!, [0])),
  },
  {
    name: "ReduceMean",
    ops: ["ReduceMean"],
    inputs: () => [f([2, 3, 4])],
    build: (_, [a]) => op.reduceMean(a!, [0, 2]),
  },
  { name: "ReduceMax", ops: ["ReduceMax"], inputs: () => [f([3, 4])], build: (_, [a]) => op.reduceMax(a!, -1) },
  { name: "Softmax last axis", ops: ["Softmax"], inputs: () => [f([2, 5], -2, 2)], build: (_, [a]) => op.softmax(a!) },
  { name: "Softmax middle axis", ops: ["Softmax"], inputs: () => [f([2, 3, 2])], build: (_, [a]) => op.softmax(a!, 1) },
  { name: "LogSoftmax", ops: ["LogSoftmax"], inputs: () => [f([3, 4], -2, 2)], build: (_, [a]) => op.logSoftmax(a!) },
  {
    name: "Reshape and Transpose",
    ops: ["Reshape", "Transpose"],
    inputs: () => [f([2, 3, 4])],
    build: (_, [a]) => op.transpose(op.reshape(a!, [6, 4]), [1, 0]),
  },
  {
    name: "Transpose 3-D",
    ops: ["Transpose"],
    inputs: () => [f([2, 3, 4])],
    build: (_, [a]) => op.transpose(a!, [2, 0, 1]),
  },
  {
    name: "Concat",
    ops: ["Concat"],
    inputs: () => [f([2, 1]), f([2, 3]), f([2, 2])],
    build: (_, [a, b, c]) => op.concat([a!, b!, op.mul(c!, c!)], 1),
  },
  {
    name: "Slice with negative bounds",
    ops: ["Slice", "Pad"],
    inputs: () => [f([3, 5])],
    build: (_, [a]) => op.slice(a!, { starts: [1, -4], ends: [3, -1], axes: [0, 1] }),
  },
  { name: "Pad", ops: ["Pad"], inputs: () => [f([2, 3])], build: (_, [a]) => op.pad(a!, [1, 0, 0, 2], 0.5) },
  {
    name: "Gather axis 0 (embedding, repeated ids)",
    ops: ["Gather", "ScatterND"],
    inputs: () => [f([4, 3]), i64([2, 3], [0, 2, 2, 3, 0, 0])],
    build: (_, [e, ids]) => op.gather(e!, ids!, 0),
  },
  {
    name: "Gather axis 1 with 2-D indices",
    ops: ["Gather", "ScatterND", "Transpose"],
    inputs: () => [f([2, 4, 3]), i64([2, 2], [1, 3, 3, 0])],
    build: (_, [x, ids]) => op.gather(x!, ids!, 1),
  },
  {
    name: "GatherElements (token log-prob pick, repeats)",
    ops: ["GatherElements", "ScatterElements"],
    inputs: () => [f([2, 4]), i64([2, 3], [1, 1, 3, 0, 2, 0])],
    build: (_, [x, ids]) => op.gatherElements(x!, ids!, -1),
  },
  {
    name: "GatherND",
    ops: ["GatherND", "ScatterND"],
    inputs: () => [f([3, 2, 2]), i64([2, 2], [0, 1, 2, 0])],
    build: (_, [x, ids]) => op.gatherND(x!, ids!),
  },
  {
    name: "ScatterND none and add",
    ops: ["ScatterND", "GatherND"],
    inputs: () => [f([4, 2]), i64([2, 1], [3, 1]), f([2, 2])],
    build: (_, [d, ids, u]) =>
      op.add(op.scatterND(d!, ids!, u!), op.scatterND(op.mul(d!, d!), ids!, op.mul(u!, u!), "add")),
  },
  {
    name: "ScatterElements none and add",
    ops: ["ScatterElements", "GatherElements"],
    inputs: () => [f([2, 4]), i64([2, 2], [3, 1, 0, 2]), f([2, 2])],
    build: (_, [d, ids, u]) =>
      op.add(op.scatterElements(d!, ids!, u!, 1), op.scatterElements(op.mul(d!, d!), ids!, op.mul(u!, u!), 1, "add")),
  },
  { name: "Expand", ops: ["Expand"], inputs: () => [f([3, 1])], build: (_, [a]) => op.expand(a!, [2, 3, 4]) },
  {
    name: "CumSum forward and reverse exclusive",
    ops: ["CumSum"],
    inputs: () => [f([2, 4])],
    build: (_, [a]) => op.add(op.cumSum(a!, 1), op.mul(op.cumSum(a!, 1, { reverse: true, exclusive: true }), a!)),
  },
  {
    name: "Trilu lower and upper",
    ops: ["Trilu"],
    inputs: () => [f([2, 3, 3])],
    build: (_, [a]) => op.add(op.trilu(a!), op.mul(op.trilu(a!, { upper: true, k: 1 }), 3)),
  },
  { name: "TopK values", ops: ["TopK"], inputs: () => [f([2, 5])], build: (_, [a]) => op.topK(a!, 2)[0] },
  { name: "Identity", ops: ["Identity"], inputs: () => [f([3])], build: (_, [a]) => op.mul(op.identity(a!), a!) },
  // Compositions: their gradients come from the primitives' rules.
  {
    name: "RMSNorm",
    ops: [],
    inputs: () => [f([2, 3, 4]), f([4], 0.5, 1.5)],
    build: (_, [x, w]) => nn.rmsNorm(x!, w!, 1e-6),
  },
  {
    name: "SwiGLU MLP",
    ops: [],
    inputs: () => [f([2, 3]), f([4, 3]), f([4, 3]), f([3, 4])],
    build: (_, [x, wg, wu, wd]) => nn.linear(op.mul(nn.silu(nn.linear(x!, wg!)), nn.linear(x!, wu!)), wd!),
  },
  { name: "logSumExp", ops: [], inputs: () => [f([3, 4], -3, 3)], build: (_, [a]) => nn.logSumExp(a!, -1) },
  {
    name: "masked cross-entropy",
    ops: [],
    inputs: () => [f([2, 3, 5], -2, 2), i64([2, 3], [1, 4, 0, 2, 2, 3])],
    build: (g, [logits, t]) => nn.crossEntropy(logits!, t!, g.constant(tensor("float64", [2, 3], [1, 1, 0, 0, 1, 1]))),
  },
  {
    // The picked log-probs alone take LogSoftmax's scatter-add shortcut; with a dense use of the same log-softmax
    // the cotangents meet first and the generic rule runs.
    name: "token log-probs, picked only and picked plus a dense use",
    ops: [],
    inputs: () => [f([2, 3, 5], -2, 2), i64([2, 3], [1, 4, 0, 2, 2, 3])],
    build: (_, [logits, t]) => {
      const lp = op.logSoftmax(op.mul(logits!, 0.5), -1);
      const shared = nn.squeeze(op.gatherElements(lp, nn.unsqueeze(t!, -1), -1), -1);
      return op.add(nn.tokenLogProbs(logits!, t!), op.mul(shared, op.reduceMean(lp, [2])));
    },
  },
  {
    name: "attention with RoPE, causal and padding masks",
    ops: [],
    inputs: () => [f([2, 2, 3, 4]), f([2, 2, 3, 4]), f([2, 2, 3, 4])],
    build: (g, [q, k, v]) => {
      const t = 3;
      const cos = g.constant(f([t, 4], -1, 1));
      const sin = g.constant(f([t, 4], -1, 1));
      const rope = (x: Sym) => op.add(op.mul(x, cos), op.mul(rotateHalf(x), sin));
      const scores = op.mul(op.matmul(rope(q!), op.transpose(rope(k!), [0, 1, 3, 2])), 0.5);
      // row 1 is left-padded by one token
      const pad = g.constant(tensorOf("bool", [2, 1, 1, t], [1, 1, 1, 0, 1, 1]));
      const mask = op.and(causalMask(g, t), pad);
      const probs = op.softmax(op.where(mask, scores, -1e9));
      return op.matmul(probs, v!);
    },
  },
];

for (const c of CASES) {
  Deno.test(`checkGrads - ${c.name} matches central differences`, async () => {
    const report = await checkGrads(c.build, c.inputs(), { wrt: c.wrt, eps: c.eps, rtol: c.rtol, atol: c.atol });
    assert(report.ok, `worst ratio ${report.worstRatio}: ${JSON.stringify(report.worst)}`);
  });
}

Deno.test("graph - inferred shapes and dtypes equal onnxruntime's for every forward and backward node", async () => {
  for (const c of CASES) {
    const g = new Graph("shapes");
    const inputs = c.inputs();
    const xs = inputs.map((t, i) => g.input(`x${i}`, t.dtype, t.shape));
    const y = c.build(g, xs);
    const loss = y.rank === 0 ? y : op.reduceSum(y, y.shape.map((_, i) => i));
    gradients(loss, xs.filter((x) => x.dtype === "float64"));
    const outs = g.nodes.flatMap((node) => node.outputs);
    outs.forEach((sym, i) => g.output(`o${i}`, sym));
    const s = await createSession(toOnnx(g), { intraOpThreads: 1 });
    const got = await s.runTensors(Object.fromEntries(inputs.map((t, i) => [`x${i}`, t])));
    outs.forEach((sym, i) => {
      const t = got[`o${i}`]!;
      assertEquals([t.dtype, [...t.shape]], [sym.dtype, [...sym.shape]], `${c.name}: ${sym.producer!.op}`);
    });
    await s.release();
  }
});

Deno.test("checkGrads - float32 graphs pass with the stated float32 tolerances", async () => {
  const inputs = [f([2, 3, 4], -1, 1, "float32"), f([5, 4], -1, 1, "float32")];
  const report = await checkGrads(
    (_, [x, w]) => op.softmax(nn.linear(nn.rmsNorm(x!, op.reduceMean(op.exp(w!), 0), 1e-6), w!)),
    inputs,
  );
  assert(report.ok, `worst ratio ${report.worstRatio}: ${JSON.stringify(report.worst)}`);
});

Deno.test("checkGrads - the table covers every rule", () => {
  const covered = new Set(CASES.flatMap((c) => c.ops));
  const missing = Object.keys(RULES).filter((name) => !covered.has(name));
  assertEquals(missing, []);
});

Deno.test("gradients - stopGradient cuts the path: d(x * stop(x))/dx = x", async () => {
  const g = new Graph();
  const x = g.input("x", "float64", [3]);
  const loss = op.reduceSum(op.mul(x, op.stopGradient(x)), [0]);
  const [dx] = gradients(loss, [x]);
  g.output("dx", dx!);
  const s = await createSession(toOnnx(g), { intraOpThreads: 1 });
  const out = await s.runTensors({ x: tensor("float64", [3], [1, -2, 3]) });
  assertEquals(Array.from(out.dx!.data as Float64Array), [1, -2, 3]);
  await s.release();
});

Deno.test("gradients - an unused parameter gets zeros and meeting gradients are summed", async () => {
  const g = new Graph();
  const x = g.input("x", "float64", [2]);
  const unused = g.input("u", "float64", [2, 2]);
  const loss = op.reduceSum(op.add(op.mul(x, 3), op.mul(x, x)), [0]);
  const [dx, du] = gradients(loss, [x, unused]);
  g.output("dx", dx!);
  g.output("du", du!);
  const s = await createSession(toOnnx(g), { intraOpThreads: 1 });
  const out = await s.runTensors({ x: tensor("float64", [2], [1, 2]), u: tensor("float64", [2, 2], [1, 2, 3, 4]) });
  assertEquals(Array.from(out.dx!.data as Float64Array), [5, 7]);
  assertEquals(Array.from(out.du!.data as Float64Array), [0, 0, 0, 0]);
  await s.release();
});

Deno.test("gradients - a missing rule is an error naming the op", () => {
  const g = new Graph();
  const x = g.input("x", "float32", [2]);
  const [y] = op.custom("Erf", [x], {}, [{ dtype: "float32", shape: [2] }]);
  throws(
    () => gradients(op.reduceSum(y!, [0]), [x]),
    (e) => e instanceof MissingGradRuleError && /"Erf"/.test(e.message),
  );
});

Deno.test("graph - a shape mismatch names the op and both shapes", () => {
  const g = new Graph();
  const a = g.input("a", "float32", [2, 3]);
  const b = g.input("b", "float32", [4, 5]);
  throws(
    () => op.matmul(a, b),
    (e) => e instanceof GraphShapeError && /"MatMul".*\[2, 3\].*\[4, 5\]/.test(e.message),
  );
  throws(() => op.add(a, b), (e) => e instanceof GraphShapeError && /"Add"/.test(e.message));
});

Deno.test("checkGrads - a wrong gradient is detected", async () => {
  // x * stop(x) has value x^2 but analytic gradient x: the finite differences must disagree.
  const bad = await checkGrads((_, [a]) => op.mul(op.stopGradient(a!), a!), [f([3], 0.5, 1)]);
  assert(!bad.ok && bad.worstRatio > 1);
});

Deno.test("gradients - Max and Min send a tie's whole gradient to the first operand (rl's PPO clip relies on it)", async () => {
  const g = new Graph();
  const a = g.input("a", "float64", [2]);
  const b = g.input("b", "float64", [2]);
  const loss = op.reduceSum(op.add(op.max(a, b), op.mul(op.min(a, b), 10)), [0]);
  const [da, db] = gradients(loss, [a, b]);
  g.output("da", da!);
  g.output("db", db!);
  const s = await createSession(toOnnx(g), { intraOpThreads: 1 });
  const out = await s.runTensors({ a: tensor("float64", [2], [1, 2]), b: tensor("float64", [2], [1, 3]) });
  assertEquals(Array.from(out.da!.data as Float64Array), [11, 10]);
  assertEquals(Array.from(out.db!.data as Float64Array), [0, 1]);
  await s.release();
});
