import { deepStrictEqual as assertEquals, ok, throws } from "node:assert";
import { initWeights } from "../engine/models/params.ts";
import { ModelRuntime } from "../engine/models/runtime.ts";
import { Scorer } from "../engine/score/mod.ts";
import { Trainer } from "../engine/train/mod.ts";
import { tinyDecoderConfig } from "../tests/fixtures/tiny_decoder.ts";
import { packGrpoBatch, packLabelledBatch, packPairBatch } from "./batches.ts";
import { GrpoInputError } from "./grpo.ts";
import { grpoTrainingLoss } from "./training_losses.ts";

const sample = (promptIds: number[], responseIds: number[], advantage = 1) => ({
  promptIds,
  responseIds,
  oldLogprobs: responseIds.map((_, j) => -1 - j),
  refLogprobs: responseIds.map((_, j) => -2 - j),
  advantage,
});

Deno.test("packGrpoBatch - response token j of a P-token prompt lands at position P-1+j", () => {
  const batch = packGrpoBatch([sample([1, 5, 6], [7, 8, 2], 0.5), sample([1], [9], -1)], { padId: 0, rows: 3 });
  assertEquals(batch.input_ids!.shape, [3, 16]);
  assertEquals(Array.from(batch.input_ids!.data as BigInt64Array).slice(0, 7).map(Number), [1, 5, 6, 7, 8, 2, 0]);
  assertEquals(Array.from(batch.attention_mask!.data as BigInt64Array).slice(0, 7).map(Number), [1, 1, 1, 1, 1, 1, 0]);
  const rm = Array.from(batch.response_mask!.data as Float32Array);
  assertEquals(rm.slice(0, 6), [0, 0, 1, 1, 1, 0]);
  assertEquals(Array.from(batch.old_logp!.data as Float32Array).slice(0, 5), [0, 0, -1, -2, -3]);
  assertEquals(Array.from(batch.ref_logp!.data as Float32Array).slice(0, 5), [0, 0, -2, -3, -4]);
  assertEquals(rm.slice(15, 17), [1, 0]); // row 1: prompt [bos], its one response token scored at position 0
  assertEquals(Array.from(batch.advantages!.data as Float32Array), [0.5, -1, 0]);
  // The dummy third row: one real pad token, nothing in the loss.
  assertEquals(Number((batch.attention_mask!.data as BigInt64Array)[32]), 1);
  assertEquals(rm.slice(30).every((v) => v === 0), true);
});

Deno.test("packGrpoBatch - bad samples are GrpoInputErrors naming the sample", () => {
  throws(() => packGrpoBatch([], { padId: 0 }), /it is empty/);
  throws(
    () => packGrpoBatch([sample([1], [2]), sample([1], [2])], { padId: 0, rows: 1 }),
    /Cannot pack 2 GRPO rows into a batch of 1/,
  );
  throws(
    () => packGrpoBatch([{ ...sample([1], [2, 3]), oldLogprobs: [-1] }], { padId: 0 }),
    /2 response tokens but 1 old/,
  );
  throws(() => packGrpoBatch([{ ...sample([1], [2]), advantage: Number.NaN }], { padId: 0 }), GrpoInputError);
  throws(
    () => packGrpoBatch([{ ...sample([1], [2]), refLogprobs: [-Infinity] }], { padId: 0 }),
    /refLogprobs\[0\] is -Infinity/,
  );
  throws(() => packGrpoBatch([sample([], [2])], { padId: 0 }), /the prompt is empty/);
});

Deno.test("packPairBatch and packLabelledBatch - common length, masks, dummy rows", () => {
  const pairs = packPairBatch([{ positive: [1, 2, 3], negative: Array(20).fill(4) }], { padId: 0, rows: 2 });
  assertEquals(pairs.pos_ids!.shape, [2, 32]);
  assertEquals(pairs.neg_ids!.shape, [2, 32]);
  assertEquals(Array.from(pairs.pair_mask!.data as Float32Array), [1, 0]);
  assertEquals(Number((pairs.pos_mask!.data as BigInt64Array)[32]), 1);
  const labelled = packLabelledBatch([{ ids: [1, 2], label: 1 }, { ids: [1], label: 0 }], {
    padId: 0,
    lengthBucket: 4,
  });
  assertEquals(labelled.input_ids!.shape, [2, 4]);
  assertEquals(Array.from(labelled.labels!.data as Float32Array), [1, 0]);
  throws(() => packLabelledBatch([{ ids: [1], label: 2 }], { padId: 0 }), /label 2 is not in \[0, 1\]/);
  throws(() => packPairBatch([{ positive: [], negative: [1] }], { padId: 0 }), /positive 0: the sequence is empty/);
});

Deno.test("packGrpoBatch - on-policy log-probs from the engine's Scorer give ratio 1 and zero KL in the loss", async () => {
  const config = tinyDecoderConfig({ vocab_size: 20, bos_token_id: 1, eos_token_id: 2, pad_token_id: 0 });
  const weights = initWeights(config, { seed: 9, std: 0.5 }); // large weights: far-from-uniform log-probs
  const runtime = new ModelRuntime(config, { session: { intraOpThreads: 1 } });
  runtime.setWeights(weights);
  const trainer = new Trainer({
    loss: grpoTrainingLoss(config),
    params: Object.fromEntries(weights),
    session: { intraOpThreads: 1 },
  });
  try {
    const rows = [{ prompt: [1, 5, 6, 7], response: [8, 9, 2] }, { prompt: [1, 3], response: [4, 4, 4, 4, 2] }];
    const logprobs = await new Scorer(runtime).tokenLogprobs(rows.map((r) => [...r.prompt, ...r.response]));
    const samples = rows.map((r, i) => {
      const own = logprobs[i]!.slice(r.prompt.length - 1); // the Scorer's row t scores token t+1
      return {
        promptIds: r.prompt,
        responseIds: r.response,
        oldLogprobs: own,
        refLogprobs: own,
        advantage: i ? -1 : 2,
      };
    });
    const report = await trainer.step([packGrpoBatch(samples, { padId: 0, rows: 3 })], { lr: 0 });
    ok(Math.abs(report.metrics.approx_kl!) < 1e-6, `approx_kl ${report.metrics.approx_kl}`);
    ok(Math.abs(report.metrics.kl!) < 1e-6, `kl ${report.metrics.kl}`);
    assertEquals(report.metrics.clip_fraction, 0);
    // Ratio 1 everywhere: loss = token-mean of −A = (−2·3 + 1·5)/8.
    ok(Math.abs(report.loss - -1 / 8) < 1e-5, `loss ${report.loss}`);
    // Misaligning by one token would show up as a non-zero KL.
    const shifted = samples.map((s, i) => ({ ...s, oldLogprobs: logprobs[i]!.slice(rows[i]!.prompt.length - 2, -1) }));
    const bad = await trainer.step([packGrpoBatch(shifted, { padId: 0, rows: 3 })], { lr: 0 });
    ok(Math.abs(bad.metrics.approx_kl!) > 1e-3, `shifted approx_kl ${bad.metrics.approx_kl}`);
  } finally {
    await runtime.release();
    await trainer.release();
  }
});
