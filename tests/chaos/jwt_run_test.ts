/**
 * A cooper run whose role actors each connect with their own minted credential (operator mode, agents holding the
 * account signing key): the learners publish weights (their `blobWrite` grant), rollouts and the reward actor read
 * them with read-only blob rights, and every sample is accounted for — least privilege costs the run nothing.
 */
import { ok, strictEqual } from "node:assert/strict";
import { RunManager } from "../../coordinator/run/manager.ts";
import { parseRunConfig } from "../../rl/mod.ts";
import { CLUSTER_TEST, rootsIn } from "../runtime/cluster_fixture.ts";
import { withJwtCluster } from "../runtime/fixtures/jwt_cluster.ts";

Deno.test(
  { name: "jwt run - a cooper run with per-actor credentials finishes with exact accounting", ...CLUSTER_TEST },
  async () => {
    await withJwtCluster({
      prefix: "coop-jwt-run-",
      maxPayload: 8 * 1024 * 1024,
      env: rootsIn,
      agents: [{ nodeId: "j1", cpus: 8 }],
    }, async (local, dir) => {
      const manager = new RunManager(local.client);
      const tiny = { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64 };
      const config = parseRunConfig({
        name: "jwt",
        mode: "cooper",
        seed: 5,
        steps: 2,
        maxStaleness: 1,
        data: { source: "builtin", levels: [1], size: 100 },
        eval: { interval: 0, size: 8 },
        checkpoint: { dir: `${dir}/runs`, interval: 0 },
        rollout: { count: 2, resources: { cpu: 0.5 } },
        policy: tiny,
        rewardModel: tiny,
        grpo: { samplesPerPrompt: 4, promptsPerStep: 2, maxNewTokens: 8, microBatchSize: 8 },
      });
      const status = manager.start(config);
      const final = await manager.wait(status.id);
      strictEqual(final.state, "finished", final.error?.message);
      const a = final.accounting;
      strictEqual(a.generated, 2 * 2 * 4);
      strictEqual(a.scored, a.generated);
      strictEqual(a.trained + a.droppedStale, a.generated);
      strictEqual(final.policyVersion, 2, "the policy learner published every version");
      const records = await local.client.actors();
      ok(records.some((r) => r.options.blobWrite === true), "learners were spawned with blobWrite");
      ok(records.some((r) => r.name?.includes("rollout") && r.options.blobWrite === undefined), "rollouts without");
    });
  },
);
