/**
 * End to end: a tiny Llama-style decoder learns to reverse 5-digit strings with the compiled training step
 * (loss + backward + AdamW in one onnxruntime graph), then generates the answers greedily with the KV cache.
 */
import { ok } from "node:assert";
import { Generator } from "../../engine/generate/generator.ts";
import { Rng } from "../../shared/mod.ts";
import { initWeights } from "../../engine/models/params.ts";
import { ModelRuntime } from "../../engine/models/runtime.ts";
import { lmTrainingLoss } from "../../engine/score/mod.ts";
import { CharTokenizer } from "../../engine/tokenizers/mod.ts";
import { Trainer } from "../../engine/train/mod.ts";
import { tensor } from "../../shared/tensor.ts";
import { tinyDecoderConfig } from "../fixtures/tiny_decoder.ts";

const DIGITS = 5;
const BATCH = 32;
const STEPS = 300;
/** Stated target: mean answer-token cross-entropy over the last 10 steps. */
const TARGET_LOSS = 0.05;

const tok = new CharTokenizer("0123456789|");
const config = tinyDecoderConfig({
  vocab_size: tok.vocabSize,
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 128,
  bos_token_id: tok.bosId,
  eos_token_id: tok.eosId,
  pad_token_id: tok.padId,
});

function example(rng: Rng): { prompt: number[]; answer: number[] } {
  const digits = Array.from({ length: DIGITS }, () => String(rng.int(0, 9))).join("");
  return {
    prompt: tok.encode(`${digits}|`, { addBos: true }),
    answer: tok.encode([...digits].reverse().join(""), { addEos: true }),
  };
}

function batch(rng: Rng) {
  const t = 16;
  const ids: number[] = [];
  const mask: number[] = [];
  const lossMask: number[] = [];
  for (let b = 0; b < BATCH; b++) {
    const { prompt, answer } = example(rng);
    const row = [...prompt, ...answer];
    ids.push(...row, ...new Array(t - row.length).fill(tok.padId));
    mask.push(...row.map(() => 1), ...new Array(t - row.length).fill(0));
    // Target t+1 counts when it is an answer token: positions prompt.length-1 .. row.length-2.
    for (let i = 0; i < t - 1; i++) lossMask.push(i >= prompt.length - 1 && i < row.length - 1 ? 1 : 0);
  }
  return {
    input_ids: tensor("int64", [BATCH, t], ids),
    attention_mask: tensor("int64", [BATCH, t], mask),
    loss_mask: tensor("float32", [BATCH, t - 1], lossMask),
  };
}

Deno.test(`training - a tiny decoder learns to reverse ${DIGITS}-digit strings (loss < ${TARGET_LOSS})`, async () => {
  const rng = new Rng(1234);
  const trainer = new Trainer({
    loss: lmTrainingLoss(config),
    params: Object.fromEntries(initWeights(config, { seed: 7 })),
    adamw: { weightDecay: 0.01, maxGradNorm: 1 },
    session: { intraOpThreads: 2 },
    name: "reverse",
  });
  const runtime = new ModelRuntime(config, { session: { intraOpThreads: 2 } });
  try {
    const losses: number[] = [];
    for (let step = 0; step < STEPS; step++) {
      const lr = 3e-3 * Math.min(1, (step + 1) / 20) * (step > STEPS * 0.7 ? 0.3 : 1);
      const report = await trainer.step(batch(rng), { lr });
      ok(!report.skipped, `step ${step} skipped`);
      losses.push(report.loss);
    }
    const final = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
    ok(final < TARGET_LOSS, `final loss ${final.toFixed(4)} (start ${losses[0]!.toFixed(3)})`);

    runtime.setWeights(new Map(Object.entries(trainer.params())));
    const tests = Array.from({ length: 32 }, () => example(rng));
    const out = await new Generator(runtime).generate(tests.map((e) => e.prompt), { maxNewTokens: DIGITS + 1 });
    const correct = tests.filter((e, i) => out.tokens[i]!.join() === e.answer.join()).length;
    ok(correct >= 28, `${correct}/32 reversals exact`);
  } finally {
    await trainer.release();
    await runtime.release();
  }
});
