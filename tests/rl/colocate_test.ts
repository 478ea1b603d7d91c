/**
 * The memory options of the 0.5B run, on a real local cluster with tiny models: a colocated rollout (the policy
 * learner sampling from its live weights) gives exactly the rollout actor's samples for the same seed and weights,
 * before and after an in-place update; colocated RM scoring gives the reward actor's scores; a frozen RM embedding
 * stays bit-identical through an update while the rest of the RM trains.
 */
import { deepStrictEqual, notDeepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { type LocalCluster, startLocalCluster } from "../../coordinator/local/mod.ts";
import { modelSpec } from "../../coordinator/run/roles.ts";
import {
  configOf,
  fetchWeights,
  PolicyLearner,
  RewardActor,
  RewardLearner,
  RolloutActor,
} from "../../actors/roles/mod.ts";
import { EMBEDDING } from "../../actors/roles/learners.ts";
import { digestTensors } from "../../actors/weights/mod.ts";
import { WeightAttestations } from "../../rl/mod.ts";
import { parseJobConfig } from "../../rl/mod.ts";
import { tinyRunConfig } from "./fixtures/tiny_run.ts";
import { RunManager } from "../../coordinator/run/manager.ts";
import { CLUSTER_TEST, rootsIn } from "../runtime/cluster_fixture.ts";

const TINY = { tokenizer: "char", dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, maxSeqLen: 128 };
const OPTIM = { lr: 5e-2, gradClip: 1, weightDecay: 0, microBatchSize: 4 };

Deno.test({ name: "colocate - rollout, RM scoring and a frozen RM embedding", ...CLUSTER_TEST }, async (t) => {
  let local: LocalCluster | undefined;
  try {
    local = await startLocalCluster({ agents: [{ nodeId: "n1", cpus: 4 }] });
    const cluster = local.client;
    const on = { resources: { cpu: 1 } };

    await t.step(
      "the colocated rollout samples what the rollout actor samples, before and after an update",
      async () => {
        const policy = await modelSpec(TINY, { classifier: false, seed: 11 });
        const learner = await cluster.spawn(PolicyLearner, on, {
          policy,
          objective: "grpo" as const,
          optim: OPTIM,
          grpo: { clipRatio: 0.2, clipRatioC: 3, klCoef: 0 },
        });
        const actor = await cluster.spawn(RolloutActor, on, policy);
        const request = (version: number) => ({
          version,
          blobPrefix: "colo.policy",
          prompts: [{ id: "p0", question: "2+3", answer: "5" }, { id: "p1", question: "4*2", answer: "8" }],
          samples: 2,
          maxNewTokens: 8,
          temperature: 1,
          seed: 7,
        });
        const strip = (s: { policyDigest: string }[]) => s.map((x) => ({ ...x, policyDigest: "" }));
        await learner.publish("colo.policy.v0", 0);
        const v0 = await learner.rollout(request(0));
        deepStrictEqual(strip(v0), strip(await actor.rollout(request(0))), "same samples from the same v0 weights");
        const d0 = await learner.liveDigest();
        ok(/^[0-9a-f]{64}$/.test(d0) && v0.every((s) => s.policyDigest === d0), "samples carry the live digest");
        const report = await learner.update(v0.map((s, i) => ({
          promptIds: s.promptIds,
          responseIds: s.responseIds,
          oldLogprobs: s.logprobs,
          refLogprobs: s.logprobs,
          advantage: i % 2 === 0 ? 1 : -1,
        })));
        ok(!report.skipped && Number.isFinite(report.loss));
        await learner.publish("colo.policy.v1", 1);
        const v1 = await learner.rollout(request(1));
        deepStrictEqual(
          strip(v1),
          strip(await actor.rollout(request(1))),
          "the learner samples from its updated weights",
        );
        notDeepStrictEqual(v1.map((s) => s.logprobs), v0.map((s) => s.logprobs), "the update changed the policy");
        const d1 = await learner.liveDigest();
        ok(d1 !== d0 && v1.every((s) => s.policyDigest === d1), "the update changed the digest the samples carry");
        // What the run's ledger checks: a sample from the updated weights that claims version 0 is refused.
        const attestations = new WeightAttestations();
        attestations.published("policy", 0, [d0]);
        attestations.published("policy", 1, [d1]);
        const claim = (id: string, version: number, digest: string) => ({
          id,
          policyVersion: version,
          policyDigest: digest,
          rmVersion: 0,
        });
        const refused = attestations.refuse([
          ...v0.map((s, i) => claim(`v0-${i}`, 0, s.policyDigest)),
          ...v1.map((s, i) => claim(`v1-${i}`, 1, s.policyDigest)),
          claim("late", 0, v1[0]!.policyDigest),
        ]);
        deepStrictEqual(refused.map((r) => r.id), ["late"]);
      },
    );

    await t.step("colocated RM scoring matches the reward actor; a frozen embedding does not move", async () => {
      const rm = await modelSpec(TINY, { classifier: true, seed: 12 });
      const learner = await cluster.spawn(RewardLearner, on, {
        rewardModel: rm,
        objective: "pairwise" as const,
        optim: OPTIM,
        frozen: [EMBEDDING],
      });
      const actor = await cluster.spawn(RewardActor, on, rm);
      const items = [
        { question: "ann has 3 balls and gets 3 more. how many?", reference: "6", response: "3+3=6. #### 6" },
        { question: "ann has 3 balls and gets 3 more. how many?", reference: "6", response: "3+3=7. #### 7" },
      ];
      const blobs = await cluster.transport.blobs(cluster.subjects.blobBucket);
      const config = configOf(rm);
      const scores = async (version: number) => {
        await learner.publish(`colo.rm.v${version}`, version);
        const request = { items, rm: { blobPrefix: "colo.rm", version } };
        const [mine, theirs] = [await learner.score(request), await actor.score(request)];
        deepStrictEqual(mine.verdicts, theirs.verdicts);
        strictEqual(mine.rmDigest, await learner.liveDigest(), "colocated scores carry the live RM digest");
        mine.scores.forEach((s, i) =>
          ok(Math.abs(s - theirs.scores[i]!) < 1e-6, `score ${i}: ${s} vs ${theirs.scores[i]}`)
        );
        const weights = await fetchWeights(blobs, `colo.rm.v${version}`, config, version);
        return { scores: mine.scores, weights, digest: mine.rmDigest };
      };
      const before = await scores(0);
      const report = await learner.updatePairs([{ positive: items[0]!.response, negative: items[1]!.response }]);
      ok(!report.skipped && Number.isFinite(report.loss));
      const after = await scores(1);
      notDeepStrictEqual(after.scores, before.scores, "the RM trained");
      ok(after.digest !== before.digest, "and its digest moved with it");
      // The learner kept the frozen embedding's hash from the first digest: the digest is still the full one.
      strictEqual(after.digest, await digestTensors(after.weights), "live digest = digest of the published weights");
      deepStrictEqual(after.weights.get(EMBEDDING)!.data, before.weights.get(EMBEDDING)!.data, "embedding frozen");
      const layer = "model.layers.0.mlp.up_proj.weight";
      notDeepStrictEqual(after.weights.get(layer)!.data, before.weights.get(layer)!.data, "other weights train");
      strictEqual((await learner.score({ items })).scores.length, 0, "no rm: verdicts only");
    });
  } finally {
    await local?.stop();
  }
});

Deno.test(
  { name: "colocate - a colocated cooper run attests every sample it trains on", ...CLUSTER_TEST },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "coop-colocate-test-" });
    let local: LocalCluster | undefined;
    try {
      local = await startLocalCluster({ env: rootsIn(dir), agents: [{ nodeId: "n1", cpus: 4 }] });
      const manager = new RunManager(local.client);
      const config = parseJobConfig(tinyRunConfig(dir, {
        name: "colocated",
        mode: "cooper",
        steps: 2,
        maxStaleness: 0,
        checkpoint: { dir: `${dir}/runs`, interval: 0 },
        rollout: { colocate: true },
        reward: { colocate: true },
      }));
      const status = manager.start(config);
      const final = await manager.wait(status.id);
      strictEqual(final.state, "finished", final.error?.message);
      const a = final.attestation!;
      // Every sample was checked against a digest the run recorded for its version; none went unchecked.
      strictEqual(a.checked, final.accounting.generated);
      ok(a.checked > 0);
      deepStrictEqual([a.rejected, a.unverified], [0, 0], a.lastRejection);
    } finally {
      await local?.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
