/**
 * The compiled training step: AdamW against a hand-computed update, clipping, skipping non-finite steps,
 * gradient accumulation, and a tiny model reaching a stated loss on a toy task.
 */
import { Rng } from "../../shared/mod.ts";
import { ok as assert, strictEqual as assertEquals, throws } from "node:assert/strict";
import { randomTensor } from "../../engine/autodiff/mod.ts";
import { type Graph, nn, op, type Sym } from "../../engine/graph/mod.ts";
import { Trainer, TrainerError } from "../../engine/train/mod.ts";
import { type Tensor, tensor } from "../../shared/tensor.ts";

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assertEquals(actual.length, expected.length, `${what}: lengths differ`);
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    assert(diff <= tol * (1 + Math.abs(expected[i]!)), `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tol ${tol})`);
  }
}

/** torch.optim.AdamW on plain arrays (float64), for reference. */
function adamwReference(
  p: number[],
  grads: number[][],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number; clip?: number },
): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const out = [...p];
  grads.forEach((g0, k) => {
    const t = k + 1;
    const norm = Math.sqrt(g0.reduce((s, x) => s + x * x, 0));
    const c = o.clip === undefined ? 1 : Math.min(1, o.clip / (norm + 1e-6));
    const g = g0.map((x) => x * c);
    for (let i = 0; i < out.length; i++) {
      out[i] = out[i]! * (1 - o.lr * o.wd);
      m[i] = o.b1 * m[i]! + (1 - o.b1) * g[i]!;
      v[i] = o.b2 * v[i]! + (1 - o.b2) * g[i]! * g[i]!;
      const mh = m[i]! / (1 - o.b1 ** t);
      const vh = v[i]! / (1 - o.b2 ** t);
      out[i] = out[i]! - o.lr * mh / (Math.sqrt(vh) + o.eps);
    }
  });
  return out;
}

// loss = sum(w * x): the gradient of w is exactly the batch input x.
const linearLoss = (_g: Graph, p: Record<string, Sym>, b: Record<string, Sym>) =>
  op.reduceSum(op.mul(p.w!, b.x!), [0, 1]);

Deno.test("Trainer - two AdamW steps equal a hand-computed update (weight decay, bias correction)", async () => {
  const w0 = [0.5, -1, 2, 0.25];
  const trainer = new Trainer({
    loss: linearLoss,
    params: { w: tensor("float32", [2, 2], w0) },
    adamw: { beta1: 0.8, beta2: 0.9, eps: 1e-6, weightDecay: 0.1 },
    session: { intraOpThreads: 1 },
  });
  try {
    const g1 = [0.3, -0.2, 1.5, 0];
    const g2 = [-0.1, 0.4, 0.5, 2];
    const r1 = await trainer.step({ x: tensor("float32", [2, 2], g1) }, { lr: 0.05 });
    const r2 = await trainer.step({ x: tensor("float32", [2, 2], g2) }, { lr: 0.05 });
    assert(!r1.skipped && !r2.skipped);
    assertEquals(r2.step, 2);
    assertClose([r1.gradNorm], [Math.hypot(...g1)], 1e-6, "grad norm");
    const expected = adamwReference(w0, [g1, g2], { lr: 0.05, b1: 0.8, b2: 0.9, eps: 1e-6, wd: 0.1 });
    assertClose(trainer.params().w!.data as Float32Array, expected, 1e-6, "w");
  } finally {
    await trainer.release();
  }
});

Deno.test("Trainer - global-norm clipping scales the gradient before AdamW; biases do not decay", async () => {
  const w0 = [1, 2, 3, 4];
  const trainer = new Trainer({
    loss: (_g, p, b) => op.add(op.reduceSum(op.mul(p.w!, b.x!), [0, 1]), op.reduceSum(op.mul(p.bias!, 0), [0])),
    params: { w: tensor("float32", [2, 2], w0), bias: tensor("float32", [2], [1, 1]) },
    adamw: { weightDecay: 0.5, maxGradNorm: 0.1 },
  });
  try {
    const g = [3, 4, 0, 0];
    const grads = [g, [-3, 1, 2, 0.5]];
    for (const x of grads) await trainer.step({ x: tensor("float32", [2, 2], x) }, { lr: 0.1 });
    const expected = adamwReference(w0, grads, { lr: 0.1, b1: 0.9, b2: 0.999, eps: 1e-8, wd: 0.5, clip: 0.1 });
    assertClose(trainer.params().w!.data as Float32Array, expected, 1e-5, "w");
    assertClose(trainer.params().bias!.data as Float32Array, [1, 1], 0, "bias");
  } finally {
    await trainer.release();
  }
});

Deno.test("Trainer - a non-finite loss skips the update and leaves weights and state unchanged", async () => {
  const trainer = new Trainer({ loss: linearLoss, params: { w: tensor("float32", [2, 2], [1, 2, 3, 4]) } });
  try {
    await trainer.step({ x: tensor("float32", [2, 2], [1, 1, 1, 1]) }, { lr: 0.1 });
    const before = Array.from(trainer.params().w!.data as Float32Array);
    const m = Array.from(trainer.state().m.w!.data as Float32Array);
    const report = await trainer.step({ x: tensor("float32", [2, 2], [1, NaN, 1, 1]) }, { lr: 0.1 });
    assert(report.skipped);
    assertEquals(report.step, 1);
    assert(Number.isNaN(report.loss));
    assertClose(trainer.params().w!.data as Float32Array, before, 0, "w");
    assertClose(trainer.state().m.w!.data as Float32Array, m, 0, "m");
    const inf = await trainer.step({ x: tensor("float32", [2, 2], [Infinity, 1, 1, 1]) }, { lr: 0.1 });
    assert(inf.skipped);
    const next = await trainer.step({ x: tensor("float32", [2, 2], [1, 1, 1, 1]) }, { lr: 0.1 });
    assert(!next.skipped && next.step === 2);
  } finally {
    await trainer.release();
  }
});

Deno.test("Trainer - two micro-batches give the same step as one batch of both", async () => {
  const next = new Rng(5);
  const params = () => ({
    w: randomTensor("float32", [3, 4], new Rng(9)),
    b: randomTensor("float32", [4], new Rng(10)),
  });
  const loss = (_g: Graph, p: Record<string, Sym>, b: Record<string, Sym>) => {
    const y = op.tanh(op.add(op.matmul(b.x!, p.w!), p.b!));
    return { loss: op.reduceMean(op.mul(y, y), [0, 1]), metrics: { ymean: op.reduceMean(y, [0, 1]) } };
  };
  const x = randomTensor("float32", [4, 3], next);
  const half = (i: number) => tensor("float32", [2, 3], (x.data as Float32Array).slice(i * 6, i * 6 + 6));
  const whole = new Trainer({ loss, params: params(), adamw: { maxGradNorm: 0.05, weightDecay: 0.01 } });
  const split = new Trainer({ loss, params: params(), adamw: { maxGradNorm: 0.05, weightDecay: 0.01 } });
  try {
    for (let s = 0; s < 2; s++) {
      const a = await whole.step({ x }, { lr: 0.01 });
      const b = await split.step([{ x: half(0) }, { x: half(1) }], { lr: 0.01 });
      assertClose([b.loss, b.gradNorm, b.metrics.ymean!], [a.loss, a.gradNorm, a.metrics.ymean!], 1e-5, "report");
    }
    for (const name of ["w", "b"]) {
      assertClose(split.params()[name]!.data as Float32Array, whole.params()[name]!.data as Float32Array, 1e-5, name);
    }
  } finally {
    await whole.release();
    await split.release();
  }
});

Deno.test("Trainer - rejects bad parameters and reserved batch names; overlapping steps queue", async () => {
  throws(() => new Trainer({ loss: linearLoss, params: { w: tensor("float64", [1], [1]) } }), TrainerError);
  throws(
    () => new Trainer({ loss: linearLoss, params: { w: tensor("float32", [1], [1]) }, trainable: ["nope"] }),
    TrainerError,
  );
  const trainer = new Trainer({ loss: linearLoss, params: { w: tensor("float32", [2, 2], [1, 2, 3, 4]) } });
  await trainer.step({ lr: tensor("float32", [], [1]) } as Record<string, Tensor>, { lr: 0.1 }).then(
    () => assert(false, "expected a TrainerError"),
    (e) => assert(e instanceof TrainerError, String(e)),
  );
  const x = { x: tensor("float32", [2, 2], [1, 1, 1, 1]) };
  const [first, second] = await Promise.all([trainer.step(x, { lr: 0.1 }), trainer.step(x, { lr: 0.1 })]);
  assertEquals([first.step, second.step].join(), "1,2");
  await trainer.release();
});

Deno.test("Trainer - an MLP learns two-digit addition to loss < 0.05", async () => {
  // Task: (a, b) digits -> a + b (19 classes). 100 examples, full batch, 250 AdamW steps.
  const a: number[] = [];
  const b: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < 10; i++) for (let j = 0; j < 10; j++) a.push(i), b.push(j), y.push(i + j);
  const next = new Rng(3);
  const init = (shape: number[], scale: number) => randomTensor("float32", shape, next, -scale, scale);
  const trainer = new Trainer({
    params: {
      emb: init([10, 16], 1),
      w1: init([64, 32], 0.2),
      b1: init([64], 0),
      w2: init([19, 64], 0.15),
      b2: init([19], 0),
    },
    loss: (_g, p, batch) => {
      const h0 = op.concat([op.gather(p.emb!, batch.a!), op.gather(p.emb!, batch.b!)], 1);
      const h1 = nn.silu(nn.linear(h0, p.w1!, p.b1!));
      const logits = nn.linear(h1, p.w2!, p.b2!);
      return nn.crossEntropy(logits, batch.y!);
    },
    adamw: { weightDecay: 0.01, maxGradNorm: 1 },
    session: { intraOpThreads: 1 },
  });
  try {
    const batch = { a: tensor("int64", [100], a), b: tensor("int64", [100], b), y: tensor("int64", [100], y) };
    let last = Infinity;
    for (let s = 0; s < 250; s++) last = (await trainer.step(batch, { lr: 0.02 })).loss;
    assert(last < 0.05, `final loss ${last}`);
  } finally {
    await trainer.release();
  }
});
