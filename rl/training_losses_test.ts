import { ok, rejects } from "node:assert";
import { Graph, toOnnx } from "../engine/graph/mod.ts";
import { declareParams, Decoder } from "../engine/models/decoder.ts";
import { initWeights } from "../engine/models/params.ts";
import { tokenLogprobsOf } from "../engine/score/mod.ts";
import { createSession } from "../engine/session/mod.ts";
import { CharTokenizer } from "../engine/tokenizers/mod.ts";
import { Trainer, type TrainerOptions } from "../engine/train/mod.ts";
import { type Tensor, tensor } from "../shared/tensor.ts";
import { tinyDecoderConfig } from "../tests/fixtures/tiny_decoder.ts";
import { grpoLoss } from "./grpo.ts";
import { formatRmInput } from "./pairs.ts";
import { TASK_ALPHABET } from "./tasks/synthetic.ts";
import {
  bceTrainingLoss,
  cooperTrainingLoss,
  grpoTrainingLoss,
  LossBatchError,
  pairwiseTrainingLoss,
} from "./training_losses.ts";

/** A test whose trainers are released even when it fails. */
function trainerTest(name: string, fn: (make: (options: TrainerOptions) => Trainer) => Promise<void>): void {
  Deno.test(name, async () => {
    const made: Trainer[] = [];
    try {
      await fn((options) => {
        const trainer = new Trainer(options);
        made.push(trainer);
        return trainer;
      });
    } finally {
      await Promise.all(made.map((t) => t.release()));
    }
  });
}

const tok = new CharTokenizer(TASK_ALPHABET);

function decoderConfig(classifier: boolean) {
  return tinyDecoderConfig({
    architectures: [classifier ? "LlamaForSequenceClassification" : "LlamaForCausalLM"],
    vocab_size: tok.vocabSize,
    tie_word_embeddings: !classifier,
    bos_token_id: tok.bosId,
    eos_token_id: tok.eosId,
    pad_token_id: tok.padId,
    ...(classifier ? { num_labels: 1 } : {}),
  });
}

/** Right-padded ids/mask [B, T] and the response mask [B, T-1] (1 where token t+1 is a response token). */
function encode(rows: { prompt: string; response: string }[], T: number) {
  const ids: number[] = [];
  const mask: number[] = [];
  const responseMask: number[] = [];
  for (const { prompt, response } of rows) {
    const p = tok.encode(prompt, { addBos: true });
    const full = [...p, ...tok.encode(response, { addEos: true })];
    ids.push(...full, ...new Array(T - full.length).fill(tok.padId));
    mask.push(...full.map(() => 1), ...new Array(T - full.length).fill(0));
    for (let t = 0; t < T - 1; t++) responseMask.push(t + 1 >= p.length && t + 1 < full.length ? 1 : 0);
  }
  const b = rows.length;
  return {
    input_ids: tensor("int64", [b, T], ids),
    attention_mask: tensor("int64", [b, T], mask),
    response_mask: tensor("float32", [b, T - 1], responseMask),
  };
}

async function tokenLogprobs(
  config: ReturnType<typeof decoderConfig>,
  params: Record<string, Tensor>,
  batch: Record<string, Tensor>,
): Promise<Float32Array> {
  const g = new Graph("logp");
  const model = new Decoder(config, declareParams(g, config));
  const [b, T] = batch.input_ids!.shape as [number, number];
  const ids = g.input("input_ids", "int64", [b, T]);
  const mask = g.input("attention_mask", "int64", [b, T]);
  g.output("logp", tokenLogprobsOf(model, ids, mask));
  const session = await createSession(toOnnx(g), { intraOpThreads: 1 });
  try {
    const out = await session.runTensors({
      ...params,
      input_ids: batch.input_ids!,
      attention_mask: batch.attention_mask!,
    });
    return out.logp!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const rowsOf = (flat: ArrayLike<number>, t: number) =>
  Array.from({ length: flat.length / t }, (_, b) => Array.from(flat).slice(b * t, (b + 1) * t));

const sumMasked = (values: Float32Array, mask: ArrayLike<number>, row: number, T: number) => {
  let s = 0;
  for (let t = 0; t < T - 1; t++) s += values[row * (T - 1) + t]! * (mask[row * (T - 1) + t] as number);
  return s;
};

trainerTest(
  "grpoTrainingLoss - matches grpoLoss on the model's log-probs, and a step moves probability toward A > 0",
  async (make) => {
    const config = decoderConfig(false);
    const params = Object.fromEntries(initWeights(config, { seed: 3 }));
    const question = "ann has 3 pens and gets 4 more. how many pens?";
    const T = 64;
    const responses = ["3+4=7. #### 7", "3+4=8. #### 8"];
    const batch = encode(responses.map((response) => ({ prompt: question, response })), T);
    const logp = await tokenLogprobs(config, params, batch);
    const rm = batch.response_mask.data;
    const old = logp.map((v, i) => v + 0.05 * Math.sin(i)); // behaviour policy slightly off: ratios ≠ 1
    const ref = logp.map((v, i) => v + 0.1 * Math.cos(i));
    const feed = {
      ...batch,
      old_logp: tensor("float32", [2, T - 1], old),
      ref_logp: tensor("float32", [2, T - 1], ref),
      advantages: tensor("float32", [2], [1, -1]),
    };
    const expected = grpoLoss({
      logProbs: rowsOf(logp, T - 1),
      oldLogProbs: rowsOf(old, T - 1),
      refLogProbs: rowsOf(ref, T - 1),
      advantages: [1, -1],
      mask: rowsOf(rm, T - 1),
    });
    const trainer = make({ loss: grpoTrainingLoss(config), params, session: { intraOpThreads: 1 }, name: "grpo" });
    const first = await trainer.step([feed], { lr: 1e-2 });
    ok(Math.abs(first.loss - expected.loss) < 1e-5, `loss ${first.loss} vs reference ${expected.loss}`);
    ok(Math.abs(first.metrics.kl! - expected.kl) < 1e-5, `kl ${first.metrics.kl} vs ${expected.kl}`);
    for (let i = 0; i < 4; i++) await trainer.step([feed], { lr: 1e-2 });
    const after = await tokenLogprobs(config, trainer.params(), batch);
    ok(sumMasked(after, rm, 0, T) > sumMasked(logp, rm, 0, T), "the positive-advantage response became more likely");
    ok(sumMasked(after, rm, 1, T) < sumMasked(logp, rm, 1, T), "the negative-advantage response became less likely");
  },
);

trainerTest("pairwiseTrainingLoss and bceTrainingLoss - the RM learns to rank verified pairs", async (make) => {
  const config = decoderConfig(true);
  const q = "bob has 5 cups and gets 2 more. how many cups?";
  const T = 160;
  const pos = encode([
    { prompt: formatRmInput(q, "7", "5+2=7. #### 7"), response: "" },
    { prompt: formatRmInput(q, "7", "5+2=7. #### 7"), response: "" },
  ], T);
  const neg = encode([
    { prompt: formatRmInput(q, "7", "5+2=8. #### 8"), response: "" },
    { prompt: formatRmInput(q, "7", "5*2=10. #### 10"), response: "" },
  ], T);
  ok(pos.input_ids.shape[1] === T);
  const trainer = make({
    loss: pairwiseTrainingLoss(config),
    params: Object.fromEntries(initWeights(config, { seed: 5 })),
    adamw: { maxGradNorm: 1 },
    session: { intraOpThreads: 1 },
    name: "rm-pairs",
  });
  const feed = {
    pos_ids: pos.input_ids,
    pos_mask: pos.attention_mask,
    neg_ids: neg.input_ids,
    neg_mask: neg.attention_mask,
    pair_mask: tensor("float32", [2], [1, 1]),
  };
  const first = await trainer.step([feed], { lr: 1e-2 });
  ok(Math.abs(first.loss - Math.log(2)) < 0.05, `a fresh RM starts near log 2, got ${first.loss}`);
  let last = first;
  for (let i = 0; i < 40; i++) last = await trainer.step([feed], { lr: 1e-2 });
  ok(last.loss < first.loss / 2, `pairwise loss fell from ${first.loss} to ${last.loss}`);
  ok(last.metrics.accuracy === 1, `pair accuracy ${last.metrics.accuracy}`);

  const bce = make({
    loss: bceTrainingLoss(config),
    params: Object.fromEntries(initWeights(config, { seed: 5 })),
    session: { intraOpThreads: 1 },
    name: "rm-bce",
  });
  const both = encode([
    { prompt: formatRmInput(q, "7", "5+2=7. #### 7"), response: "" },
    { prompt: formatRmInput(q, "7", "5+2=8. #### 8"), response: "" },
  ], T);
  const labelled = {
    input_ids: both.input_ids,
    attention_mask: both.attention_mask,
    labels: tensor("float32", [2], [1, 0]),
    label_mask: tensor("float32", [2], [1, 1]),
  };
  const b0 = await bce.step([labelled], { lr: 1e-2 });
  let b1 = b0;
  for (let i = 0; i < 40; i++) b1 = await bce.step([labelled], { lr: 1e-2 });
  ok(b1.loss < b0.loss / 2 && b1.metrics.accuracy === 1, `BCE ${b0.loss} -> ${b1.loss}, acc ${b1.metrics.accuracy}`);
});

trainerTest("cooperTrainingLoss - pair and anchor micro-batches with weights give pairwise + w · BCE", async (make) => {
  const config = decoderConfig(true);
  const q = "bob has 5 cups and gets 2 more. how many cups?";
  const T = 160;
  const rows = (texts: string[]) => encode(texts.map((t) => ({ prompt: formatRmInput(q, "7", t), response: "" })), T);
  const pos = rows(["5+2=7. #### 7"]);
  const neg = rows(["5+2=8. #### 8"]);
  const pairs = {
    pos_ids: pos.input_ids,
    pos_mask: pos.attention_mask,
    neg_ids: neg.input_ids,
    neg_mask: neg.attention_mask,
    pair_mask: tensor("float32", [1], [1]),
  };
  const both = rows(["5+2=7. #### 7", "5+2=9. #### 9"]);
  const labelled = {
    input_ids: both.input_ids,
    attention_mask: both.attention_mask,
    labels: tensor("float32", [2], [1, 0]),
    label_mask: tensor("float32", [2], [1, 1]),
  };
  const fresh = (loss: TrainerOptions["loss"], name: string) =>
    make({ loss, params: Object.fromEntries(initWeights(config, { seed: 9 })), session: { intraOpThreads: 1 }, name });
  const pairOnly = (await fresh(pairwiseTrainingLoss(config), "p").step([pairs], { lr: 1e-3 })).loss;
  const bceOnly = (await fresh(bceTrainingLoss(config), "b").step([labelled], { lr: 1e-3 })).loss;
  const plain = await fresh(cooperTrainingLoss(config), "c0").step([pairs], { lr: 1e-3 });
  ok(plain.loss === pairOnly, `without weights the loss is the pairwise one: ${plain.loss} vs ${pairOnly}`);
  const w = 0.5;
  const weight = (v: number) => ({ loss_weight: tensor("float32", [1], [v]) });
  // Two micro-batches: the Trainer averages, so weights k/P = 2 and w·k/L = 2w make the mean pairwise + w · BCE.
  const mixed = await fresh(cooperTrainingLoss(config), "c1").step(
    [{ ...pairs, ...weight(2) }, { ...labelled, ...weight(2 * w) }],
    { lr: 1e-3 },
  );
  const expected = pairOnly + w * bceOnly;
  ok(Math.abs(mixed.loss - expected) < 1e-5, `mixed loss ${mixed.loss}, expected ${expected}`);
});

trainerTest("training losses - a batch missing a tensor is a LossBatchError naming it", async (make) => {
  const config = decoderConfig(true);
  const trainer = make({
    loss: pairwiseTrainingLoss(config),
    params: Object.fromEntries(initWeights(config, { seed: 1 })),
    name: "rm-bad",
  });
  const one = encode([{ prompt: "x", response: "" }], 16);
  await rejects(
    trainer.step([{ pos_ids: one.input_ids, pos_mask: one.attention_mask }], { lr: 1e-3 }),
    (e: unknown) =>
      e instanceof LossBatchError &&
      e.message === `Cannot build the pairwise loss: the batch has no "neg_ids", "neg_mask", "pair_mask"`,
  );
});
