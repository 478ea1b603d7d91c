/**
 * Cooper's RM update only matters if the reward actors score with the updated RM on the next step. A stale RM in
 * the reward actor would make `cooper` behave exactly like `static-rm`, and every other test would still pass. This
 * test runs the real path: the RewardLearner takes one pairwise update and publishes a new version to the Object
 * Store, and the RewardActor, asked for that version, must reload it (and reload the old one when asked for it).
 */
import { notDeepStrictEqual, ok, strictEqual } from "node:assert";
import { type LocalCluster, startLocalCluster } from "../../coordinator/local/mod.ts";
import { modelSpec } from "../../coordinator/run/roles.ts";
import { RewardActor, RewardLearner } from "../../actors/roles/mod.ts";
import { CLUSTER_TEST } from "../runtime/cluster_fixture.ts";

Deno.test({ name: "RewardActor scores with the RM version it is asked for", ...CLUSTER_TEST }, async () => {
  let local: LocalCluster | undefined;
  try {
    local = await startLocalCluster({ agents: [{ nodeId: "n1", cpus: 4 }] });
    const cluster = local.client;
    const rm = await modelSpec({ tokenizer: "char", dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, maxSeqLen: 128 }, {
      classifier: true,
      seed: 5,
    });
    const learner = await cluster.spawn(RewardLearner, { name: "rmv-learner", resources: { cpu: 1 } }, {
      rewardModel: rm,
      objective: "pairwise" as const,
      optim: { lr: 1e-2, gradClip: 1, weightDecay: 0, microBatchSize: 4 },
    });
    const scorer = await cluster.spawn(RewardActor, { name: "rmv-scorer", resources: { cpu: 1 } }, rm);
    const items = [
      { question: "ann has 3 balls and gets 3 more. how many balls?", reference: "6", response: "3+3=6. #### 6" },
      { question: "ann has 3 balls and gets 3 more. how many balls?", reference: "6", response: "3+3=7. #### 7" },
    ];
    const prefix = "rmv.rm";
    await learner.publish(`${prefix}.v0`, 0);
    const v0 = await scorer.score({ items, rm: { blobPrefix: prefix, version: 0 } });
    const report = await learner.updatePairs([
      { positive: "<completion>3+3=6. #### 6</completion>", negative: "<completion>3+3=7. #### 7</completion>" },
    ]);
    ok(Number.isFinite(report.loss));
    await learner.publish(`${prefix}.v1`, 1);
    const v1 = await scorer.score({ items, rm: { blobPrefix: prefix, version: 1 } });
    notDeepStrictEqual(v1.scores, v0.scores, "the reward actor reloaded the updated RM");
    const again = await scorer.score({ items, rm: { blobPrefix: prefix, version: 0 } });
    for (const [i, s] of again.scores.entries()) ok(Math.abs(s - v0.scores[i]!) < 1e-6, "version 0 again");
    strictEqual(v1.verdicts.join(), "correct,incorrect");
  } finally {
    await local?.stop();
  }
});
