/**
 * The data plane under the role actors, on a real local cluster with two agents standing in for two hosts (each
 * its own segment directory and weight server): a learner publishes once, a rollout actor on its host maps the
 * version from shared memory, one on the other host downloads it peer to peer, both report the published digest,
 * and retiring the version deletes the segments on both hosts.
 */
import { ok, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { startLocalCluster } from "../../coordinator/local/mod.ts";
import { modelSpec } from "../../coordinator/run/roles.ts";
import { PolicyLearner, RolloutActor } from "../../actors/roles/mod.ts";
import { publishedDigests, retireWeights } from "../../actors/weights/mod.ts";
import { CLUSTER_TEST, eventually } from "./cluster_fixture.ts";

function segments(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".st"));
  } catch {
    return [];
  }
}

Deno.test(
  { name: "weights - role actors on two hosts load one published version (bf16 transfer) by digest", ...CLUSTER_TEST },
  async () => {
    const root = await Deno.makeTempDir({ prefix: "coop-weights-roles-" });
    const dirs = { a: join(root, "a"), b: join(root, "b") };
    const saved = { dir: Deno.env.get("COOP_WEIGHTS_DIR"), listen: Deno.env.get("COOP_WEIGHTS_LISTEN") };
    const local = await startLocalCluster({ agents: [] });
    try {
      // Agents read their weight settings from the environment they are started with.
      Deno.env.set("COOP_WEIGHTS_LISTEN", "127.0.0.1:0");
      for (const [host, dir] of Object.entries(dirs)) {
        Deno.env.set("COOP_WEIGHTS_DIR", dir);
        await local.addAgent({ nodeId: `host-${host}`, cpus: 4, resources: { [`on_${host}`]: 10 } });
      }
      const cluster = local.client;
      const policy = await modelSpec({ tokenizer: "char", dModel: 32, nLayers: 1, nHeads: 2, dFF: 64, maxSeqLen: 64 }, {
        classifier: false,
        seed: 3,
        // The run config's weights.transferDtype: versions travel in bf16 and are widened on load.
        transferDtype: "bfloat16",
      });
      const on = (host: string) => ({ resources: { cpu: 0.5, [`on_${host}`]: 1 } });
      const learner = await cluster.spawn(PolicyLearner, on("a"), {
        policy,
        objective: "sft" as const,
        optim: { lr: 1e-3, gradClip: 1, weightDecay: 0, microBatchSize: 4 },
      });
      await learner.init();
      await learner.publish("wr.policy.v0", 0);
      strictEqual(segments(dirs.a).length, 1, "the learner wrote one segment on its host");
      ok(segments(dirs.a)[0]!.includes("@bfloat16@"), `published in the transfer dtype: ${segments(dirs.a)}`);
      const [digest] = await publishedDigests(cluster.transport, cluster.subjects.cluster, "wr.policy.v0");
      ok(digest !== undefined && /^[0-9a-f]{64}$/.test(digest));
      const request = {
        version: 0,
        blobPrefix: "wr.policy",
        prompts: [{ id: "p0", question: "1+1", answer: "2" }],
        samples: 2,
        maxNewTokens: 4,
        temperature: 1,
        seed: 1,
      };
      for (const host of ["a", "b"]) {
        const rollout = await cluster.spawn(RolloutActor, on(host), policy);
        const samples = await rollout.rollout(request);
        ok(samples.every((s) => s.policyDigest === digest), `the rollout actor on host ${host} reports the digest`);
      }
      strictEqual(segments(dirs.b).length, 1, "host b downloaded the version into its own directory");
      await retireWeights(cluster.transport, cluster.subjects.cluster, "wr.policy.v0");
      await eventually(
        "segments deleted on both hosts",
        () => Promise.resolve(segments(dirs.a).length + segments(dirs.b).length === 0 ? true : undefined),
      );
    } finally {
      for (const [key, value] of [["COOP_WEIGHTS_DIR", saved.dir], ["COOP_WEIGHTS_LISTEN", saved.listen]] as const) {
        if (value === undefined) {
          Deno.env.delete(key);
        } else Deno.env.set(key, value);
      }
      await local.stop();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
);
