/** Graph building, ONNX serialization and onnxruntime sessions (real sessions, no mocks). */
import { deepStrictEqual as assertEquals, ok as assert, rejects, throws } from "node:assert/strict";
import { Graph, GraphBuildError, GraphShapeError, nn, op, tensorOf, toOnnx } from "../../engine/graph/mod.ts";
import { createSession, fromOrt, SessionError, toOrt } from "../../engine/session/mod.ts";
import { tensor } from "../../shared/tensor.ts";

Deno.test("toOnnx - a 1M-element initializer and negative int attributes survive serialization", async () => {
  const n = 1 << 20;
  const w = new Float32Array(n).map((_, i) => i % 1000);
  const g = new Graph();
  const x = g.input("x", "float32", [n]);
  const c = g.constant(tensor("float32", [n], w), "w");
  g.output("y", op.add(x, c));
  const [sm] = op.custom("Softmax", [op.reshape(x, [1024, 1024])], { axis: { int: -1 } }, [{
    dtype: "float32",
    shape: [1024, 1024],
  }]);
  g.output("sm", sm!);
  g.output("w_out", c); // a constant as an output goes through an Identity
  const s = await createSession(toOnnx(g), { intraOpThreads: 1 });
  try {
    const out = await s.runTensors({ x: tensor("float32", [n], new Float32Array(n).fill(1)) });
    const y = out.y!.data as Float32Array;
    assertEquals([y[0], y[999], y[1000], y[n - 1]], [1, 1000, 1, ((n - 1) % 1000) + 1]);
    assertEquals((out.w_out!.data as Float32Array)[999], 999);
    const row = Array.from((out.sm!.data as Float32Array).slice(0, 1024));
    assert(Math.abs(row.reduce((p, q) => p + q, 0) - 1) < 1e-5);
  } finally {
    await s.release();
  }
});

Deno.test("toOnnx - only live nodes are written, unused inputs stay declared", async () => {
  const g = new Graph();
  const a = g.input("a", "float32", [2]);
  const b = g.input("b", "float32", [2]);
  op.exp(op.mul(a, b)); // dead
  g.output("y", op.neg(a));
  const s = await createSession(toOnnx(g));
  assertEquals([...s.inputNames].sort(), ["a", "b"]);
  const out = await s.runTensors({ a: tensor("float32", [2], [1, 2]), b: tensor("float32", [2], [0, 0]) });
  assertEquals(Array.from(out.y!.data as Float32Array), [-1, -2]);
  await s.release();
});

Deno.test("graph - build-time errors name the op and the shapes", () => {
  const g = new Graph("errors");
  const x = g.input("x", "float32", [2, 3]);
  const ids = g.input("ids", "float32", [2]);
  const cases: [() => unknown, RegExp][] = [
    [() => op.reshape(x, [4, 2]), /"Reshape".*\[2, 3\].*\[4, 2\]/],
    [() => op.concat([x, g.input("y", "float32", [3, 3])], 1), /"Concat"/],
    [() => op.gather(x, ids), /"Gather".*indices must be int/],
    [() => op.transpose(x, [0, 0]), /"Transpose"/],
    [() => op.softmax(x, 2), /"Softmax".*axis 2/],
    [() => op.where(x, x, x), /"Where".*bool/],
    [() => op.matmul(x, g.input("v", "float32", [3])), /"MatMul".*rank/],
    [() => nn.squeeze(x, 0), /squeeze/],
  ];
  for (const [fn, pattern] of cases) throws(fn, (e) => (e instanceof GraphShapeError) && pattern.test(e.message));
  throws(() => g.input("x", "float32", [1]), GraphBuildError);
  throws(() => op.add(x, new Graph().input("z", "float32", [2, 3])), GraphBuildError);
  throws(() => toOnnx(new Graph("empty")), GraphBuildError);
});

Deno.test("graph - slices follow numpy semantics including negative steps", async () => {
  const g = new Graph();
  const x = g.input("x", "float32", [6]);
  g.output("a", op.slice(x, { starts: [-2], ends: [100] }));
  g.output("b", op.slice(x, { starts: [4], ends: [-100], steps: [-2] }));
  g.output("c", op.slice(x, { starts: [1], ends: [5], steps: [3] }));
  assertEquals(g.outputs.get("b")!.shape, [3]);
  const s = await createSession(toOnnx(g));
  const out = await s.runTensors({ x: tensor("float32", [6], [0, 1, 2, 3, 4, 5]) });
  assertEquals(Array.from(out.a!.data as Float32Array), [4, 5]);
  assertEquals(Array.from(out.b!.data as Float32Array), [4, 2, 0]);
  assertEquals(Array.from(out.c!.data as Float32Array), [1, 4]);
  await s.release();
});

Deno.test("session - Tensor <-> ort.Tensor conversion shares the buffer", () => {
  const t = tensor("float32", [2, 2], [1, 2, 3, 4]);
  const o = toOrt(t);
  assert(o.data === t.data);
  assertEquals(o.dims, [2, 2]);
  const back = fromOrt(o);
  assert(back.data === t.data);
  const ids = toOrt(tensorOf("int64", [3], [1, 2, 3]));
  assertEquals(ids.type, "int64");
});

Deno.test("session - a missing input and a bad feed are SessionErrors naming the session", async () => {
  const g = new Graph();
  const x = g.input("x", "float32", [2]);
  g.output("y", op.exp(x));
  const s = await createSession(toOnnx(g), { name: "tiny" });
  try {
    await rejects(s.run({}), (e) => e instanceof SessionError && /"tiny".*"x"/.test(e.message));
    await rejects(s.run({ x: tensor("float32", [3], [1, 2, 3]) }), SessionError);
  } finally {
    await s.release();
  }
  await rejects(createSession(new Uint8Array([1, 2, 3])), SessionError);
});

Deno.test("session - cuda either runs or fails with a SessionError naming the provider", async () => {
  const g = new Graph();
  g.output("y", op.neg(g.input("x", "float32", [2])));
  try {
    const s = await createSession(toOnnx(g), { executionProvider: "cuda" });
    const out = await s.runTensors({ x: tensor("float32", [2], [1, 2]) });
    assertEquals(Array.from(out.y!.data as Float32Array), [-1, -2]);
    await s.release();
  } catch (e) {
    assert(e instanceof SessionError && /cuda/.test(e.message), String(e));
  }
});

Deno.test("graph - ops without gradients infer the dtypes and shapes onnxruntime produces", async () => {
  const g = new Graph();
  const x = g.input("x", "float32", [2, 3]);
  const y = g.input("y", "float32", [3]);
  const ids = g.input("ids", "int64", [2, 3]);
  const gt = op.greater(x, y);
  const syms = [
    op.equal(x, y),
    op.less(x, 0),
    op.and(gt, op.not(op.less(x, 0.5))),
    op.or(gt, op.isNaN(x)),
    op.isInf(x),
    op.argMax(x, 1),
    op.argMax(x, 0, { keepDims: true }),
    op.topK(x, 2)[1],
    op.cumSum(ids, 1),
    op.add(ids, 1),
    op.cast(gt, "float32"),
    op.trilu(ids, { k: -1 }),
  ];
  syms.forEach((s, i) => g.output(`o${i}`, s));
  const s = await createSession(toOnnx(g));
  const out = await s.runTensors({
    x: tensor("float32", [2, 3], [1, -2, 3, 0.2, 5, -6]),
    y: tensor("float32", [3], [1, 0, 0]),
    ids: tensor("int64", [2, 3], [1, 2, 3, 4, 5, 6]),
  });
  syms.forEach((sym, i) => assertEquals([out[`o${i}`]!.dtype, [...out[`o${i}`]!.shape]], [sym.dtype, [...sym.shape]]));
  assertEquals(Array.from(out.o5!.data as BigInt64Array), [2n, 1n]);
  assertEquals(Array.from(out.o8!.data as BigInt64Array), [1n, 3n, 6n, 4n, 9n, 15n]);
  await s.release();
});
