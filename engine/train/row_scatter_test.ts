/** `addRows` against onnxruntime's own ScatterND (reduction "add"): repeated and negative rows, the sumsq change. */
import { ok, strictEqual, throws } from "node:assert/strict";
import { Graph, op, toOnnx } from "../graph/mod.ts";
import { createSession } from "../session/mod.ts";
import { tensor } from "../../shared/tensor.ts";
import { addRows, splitRowScatter } from "./row_scatter.ts";

const ROWS = 7;
const D = 5;

Deno.test("addRows - matches ScatterND add with repeated and negative rows; returns the change of the sum of squares", async () => {
  const dense = Float32Array.from({ length: ROWS * D }, (_, i) => Math.sin(i) * 3);
  const indices = [2, 5, 2, -1, 0];
  const updates = Float32Array.from({ length: indices.length * D }, (_, i) => Math.cos(i * 1.7));
  const g = new Graph("scatter");
  const data = g.input("data", "float32", [ROWS, D]);
  const idx = g.input("idx", "int64", [indices.length, 1]);
  const upd = g.input("upd", "float32", [indices.length, D]);
  const out = op.scatterND(data, idx, upd, "add");
  strictEqual(splitRowScatter(out)?.dense, data);
  g.output("y", out);
  const session = await createSession(toOnnx(g), { intraOpThreads: 1 });
  const want = (await session.runTensors({
    data: tensor("float32", [ROWS, D], dense),
    idx: tensor("int64", [indices.length, 1], indices),
    upd: tensor("float32", [indices.length, D], updates),
  })).y!.data as Float32Array;
  await session.release();
  const target = dense.slice();
  const delta = addRows(target, BigInt64Array.from(indices.map(BigInt)), updates, D, true);
  strictEqual(target.join(), want.join());
  const sq = (x: Float32Array) => x.reduce((s, v) => s + v * v, 0);
  ok(Math.abs(delta - (sq(target) - sq(dense))) < 1e-9 * sq(target), `sumsq change ${delta}`);
  strictEqual(addRows(target.slice(), [1], updates.subarray(0, D), D), 0);
});

Deno.test("addRows - refuses rows out of range and mis-sized updates; a plain Add is not split", () => {
  const target = new Float32Array(ROWS * D);
  throws(() => addRows(target, [ROWS], new Float32Array(D), D), /row 7 is out of range/);
  throws(() => addRows(target, [0, 1], new Float32Array(D), D), /5 update values for 2 rows/);
  const g = new Graph("plain");
  const a = g.input("a", "float32", [ROWS, D]);
  strictEqual(splitRowScatter(op.add(a, a)), null);
});
