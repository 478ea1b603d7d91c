/**
 * The hacking monitor's `rollback` response restores an RM version the learner kept: its weights and its AdamW
 * state, so training continues from that version exactly as if the later updates had never happened. In-process
 * (a real Trainer and real onnxruntime, no cluster): the learner is used as a plain object.
 */
import { deepStrictEqual, notDeepStrictEqual, strictEqual } from "node:assert";
import { RewardLearner } from "../../actors/roles/learners.ts";
import { modelSpec } from "../../coordinator/run/roles.ts";
import { readSafetensors } from "../../engine/io/mod.ts";
import { formatRmInput } from "../../rl/mod.ts";

const Q = "ann has 3 balls and gets 3 more. how many balls?";
const PAIRS = [{ positive: formatRmInput(Q, "6", "3+3=6. #### 6"), negative: formatRmInput(Q, "6", "3+3=7. #### 7") }];

async function weightsOf(learner: RewardLearner, dir: string): Promise<Record<string, number[]>> {
  await learner.save(dir);
  const read = async (file: string) =>
    [...(await readSafetensors(`${dir}/${file}`)).tensors].map(([k, t]) => [k, Array.from(t.data as Float32Array)]);
  return Object.fromEntries([...await read("model.safetensors"), ...await read("optimizer.safetensors")]);
}

Deno.test("RewardLearner - rollback restores a kept version's weights and optimizer state", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-rm-rollback-" });
  try {
    const rm = await modelSpec({ tokenizer: "char", dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, maxSeqLen: 128 }, {
      classifier: true,
      seed: 4,
    });
    const learner = new RewardLearner({
      rewardModel: rm,
      objective: "pairwise",
      optim: { lr: 1e-2, gradClip: 1, weightDecay: 0, microBatchSize: 2 },
    });
    await learner.updatePairs(PAIRS);
    await learner.snapshot(1, 3);
    const kept = await weightsOf(learner, `${dir}/v1`);
    for (const version of [2, 3]) {
      await learner.updatePairs(PAIRS);
      await learner.snapshot(version, 3);
    }
    notDeepStrictEqual(await weightsOf(learner, `${dir}/v3`), kept);
    strictEqual(await learner.rollback(1), true);
    deepStrictEqual(await weightsOf(learner, `${dir}/back`), kept);
    // The restored RM trains on: the next update is a real one.
    strictEqual((await learner.updatePairs(PAIRS)).skipped, false);
    // Only the newest `keep` versions are kept.
    await learner.snapshot(4, 3);
    strictEqual(await learner.rollback(1), false, "version 1 is no longer kept after 2, 3 and 4");
    strictEqual(await learner.rollback(2), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
