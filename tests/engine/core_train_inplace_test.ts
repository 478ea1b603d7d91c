/**
 * The in-place update (gradients into buffers allocated once, AdamW over the trainer's own parameter and moment
 * buffers) against the fused graph path that returns fresh state tensors: a tied Qwen2-style decoder over several
 * steps with micro-batches, clipping, weight decay and a frozen parameter; buffer reuse, skipped steps, adoption.
 */
import { ok, rejects, strictEqual, throws } from "node:assert/strict";
import { initWeights } from "../../engine/models/params.ts";
import { lmTrainingLoss } from "../../engine/score/mod.ts";
import { Trainer, TrainerError, type TrainerOptions, type UpdateMode } from "../../engine/train/mod.ts";
import { type Tensor, tensor } from "../../shared/tensor.ts";
import { tinyDecoderConfig } from "../fixtures/tiny_decoder.ts";

// Llama-style (no q/k/v biases): a k-projection bias has a mathematically zero gradient (softmax ignores it), and
// AdamW turns the float noise there into ±lr updates that differ between any two graphs.
const config = tinyDecoderConfig({
  vocab_size: 48,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  pad_token_id: 0,
});

function batch(salt: number, rows = 2, t = 16): Record<string, Tensor> {
  const ids = Array.from({ length: rows * t }, (_, i) => 1 + ((i + 3) * 31 + salt * 17) % 47);
  // Right padding in the last row, so masking is part of what must agree.
  const mask = Array.from({ length: rows * t }, (_, i) => (i >= rows * t - 3 ? 0 : 1));
  return { input_ids: tensor("int64", [rows, t], ids), attention_mask: tensor("int64", [rows, t], mask) };
}

function trainer(update: UpdateMode, extra: Partial<TrainerOptions> = {}): Trainer {
  const params = Object.fromEntries(initWeights(config, { seed: 4, std: 0.2 }));
  return new Trainer({
    loss: lmTrainingLoss(config),
    params,
    trainable: Object.keys(params).filter((n) => n !== "model.norm.weight"),
    adamw: { weightDecay: 0.1, maxGradNorm: 0.5 },
    session: { intraOpThreads: 1 },
    update,
    ...extra,
  });
}

/** Largest |a - b| / (floor + |b|) over every element of every tensor. */
function maxRelDiff(a: Record<string, Tensor>, b: Record<string, Tensor>, floor: number): number {
  let worst = 0;
  for (const [name, t] of Object.entries(a)) {
    const x = t.data as Float32Array;
    const y = b[name]!.data as Float32Array;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (floor + Math.abs(y[i]!)));
  }
  return worst;
}

Deno.test("Trainer in place - six steps (micro-batches) match the fused graph update", async () => {
  const inPlace = trainer("inPlace");
  const fused = trainer("graph");
  try {
    const schedule: (Record<string, Tensor> | Record<string, Tensor>[])[] = [
      batch(1),
      [batch(2), batch(3)],
      batch(4),
      [batch(5), batch(6), batch(7)],
      batch(8),
    ];
    for (const [i, b] of schedule.entries()) {
      const lr = 0.01 * (i + 1);
      const a = await inPlace.step(b, { lr });
      const f = await fused.step(b, { lr });
      ok(!a.skipped && !f.skipped, `step ${i} skipped`);
      ok(Math.abs(a.loss - f.loss) <= 1e-5 * Math.abs(f.loss), `step ${i} loss ${a.loss} vs ${f.loss}`);
      ok(Math.abs(a.gradNorm - f.gradNorm) <= 1e-4 * f.gradNorm, `step ${i} norm ${a.gradNorm} vs ${f.gradNorm}`);
    }
    strictEqual(inPlace.stepCount, 5);
    const params = maxRelDiff(inPlace.params(), fused.params(), 0.01);
    ok(params < 2e-3, `parameters differ by ${params} (relative)`);
    const [sa, sf] = [inPlace.state(), fused.state()];
    ok(maxRelDiff(sa.m, sf.m, 1e-4) < 1e-3, `first moments differ by ${maxRelDiff(sa.m, sf.m, 1e-4)}`);
    ok(maxRelDiff(sa.v, sf.v, 1e-8) < 1e-3, `second moments differ by ${maxRelDiff(sa.v, sf.v, 1e-8)}`);
    const frozen = inPlace.params()["model.norm.weight"]!.data as Float32Array;
    ok(frozen.every((x) => x === 1), "a frozen parameter changed");
  } finally {
    await inPlace.release();
    await fused.release();
  }
});

Deno.test("Trainer in place - state buffers are reused across steps; a non-finite step writes nothing", async () => {
  const t = trainer("inPlace", { adamw: {} });
  try {
    const name = "model.layers.0.mlp.up_proj.weight";
    const param = t.params()[name]!.data as Float32Array;
    const m = t.state().m[name]!.data as Float32Array;
    await t.step(batch(1), { lr: 0.01 });
    await t.step([batch(2), batch(3)], { lr: 0.01 });
    ok(t.params()[name]!.data === param && t.state().m[name]!.data === m, "a step replaced a state buffer");
    const before = { p: param.slice(), m: m.slice(), v: (t.state().v[name]!.data as Float32Array).slice() };
    // A NaN loss: a loss_mask of NaN makes the masked mean NaN (and every gradient NaN).
    const nan = { ...batch(4), loss_mask: tensor("float32", [2, 15], new Array(30).fill(NaN)) };
    const r = await t.step(nan, { lr: 0.01 });
    ok(r.skipped && r.step === 2, `expected a skipped step, got ${JSON.stringify(r)}`);
    ok(param.every((x, i) => x === before.p[i]) && m.every((x, i) => x === before.m[i]), "skipped step wrote state");
    ok((t.state().v[name]!.data as Float32Array).every((x, i) => x === before.v[i]), "skipped step wrote v");
  } finally {
    await t.release();
  }
});

Deno.test("Trainer in place - the update split over worker threads equals one thread bit for bit", async () => {
  const split = trainer("inPlace", { updatePool: { threads: 3, minParallel: 0, minTensor: 64 } });
  const single = trainer("inPlace", { updatePool: { threads: 1 } });
  try {
    for (const salt of [1, 2, 3]) {
      const [a, b] = [await split.step(batch(salt), { lr: 0.01 }), await single.step(batch(salt), { lr: 0.01 })];
      strictEqual(a.loss, b.loss);
      ok(a.timing.updateThreads === 3 && b.timing.updateThreads === 1, JSON.stringify([a.timing, b.timing]));
    }
    for (const [name, t] of Object.entries(single.params())) {
      const x = split.params()[name]!.data as Float32Array;
      ok((t.data as Float32Array).every((y, i) => y === x[i]), `"${name}" differs`);
    }
  } finally {
    await split.release();
    await single.release();
  }
});

Deno.test("Trainer in place - copies given parameters unless adoptParams", async () => {
  const given = Object.fromEntries(initWeights(config, { seed: 2 }));
  const name = "model.embed_tokens.weight";
  const snapshot = (given[name]!.data as Float32Array).slice();
  const copying = new Trainer({ loss: lmTrainingLoss(config), params: given });
  const adopting = new Trainer({ loss: lmTrainingLoss(config), params: given, adoptParams: true });
  try {
    await copying.step(batch(1), { lr: 0.01 });
    ok((given[name]!.data as Float32Array).every((x, i) => x === snapshot[i]), "the copying trainer wrote the input");
    await adopting.step(batch(1), { lr: 0.01 });
    strictEqual(adopting.params()[name]!.data, given[name]!.data);
    ok((given[name]!.data as Float32Array).some((x, i) => x !== snapshot[i]), "the adopted buffer did not change");
  } finally {
    await copying.release();
    await adopting.release();
  }
});

Deno.test("Trainer in place - an update that fails partway is refused until parameters and state are restored", async () => {
  const t = trainer("inPlace", {
    updatePool: {
      threads: 2,
      minParallel: 0,
      minTensor: 64,
      workerModule: new URL("../fixtures/failing_adamw_worker.ts", import.meta.url),
    },
  });
  try {
    const saved = {
      params: Object.fromEntries(
        Object.entries(t.params()).map((
          [k, v],
        ) => [k, tensor("float32", v.shape, Float32Array.from(v.data as Float32Array))]),
      ),
      state: structuredClone(t.state()),
    };
    const failing = t.step(batch(1), { lr: 0.01 });
    const queued = t.step(batch(2), { lr: 0.01 }); // behind the failing one: refused when its turn comes
    await rejects(failing, (e: Error) => {
      ok(
        e instanceof TrainerError && /step 1 failed in its AdamW update \(.*injected failure/.test(e.message),
        e.message,
      );
      return true;
    });
    await rejects(queued, /Cannot step "trainer": step 1 failed/);
    for (const read of [() => t.params(), () => t.state(), () => t.paramFeeds()]) {
      throws(read, /partly updated; still to restore: \d+ parameters \(setParams\) and the optimizer state/);
    }
    await rejects(() => t.step(batch(2), { lr: 0.01 }), /Cannot step "trainer": step 1 failed/);
    t.setParams(saved.params);
    throws(() => t.params(), /still to restore: the optimizer state \(loadState\)$/);
    t.loadState(saved.state);
    strictEqual(t.stepCount, 0);
    const name = "model.embed_tokens.weight";
    ok((t.params()[name]!.data as Float32Array).every((x, i) => x === (saved.params[name]!.data as Float32Array)[i]));
  } finally {
    await t.release();
  }
});
