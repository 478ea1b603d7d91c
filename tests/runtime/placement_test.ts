import { assert, assertEquals, assertRejects } from "./assert.ts";
import { CallTimeoutError, CancelledError } from "../../shared/errors.ts";
import { Sleeper } from "./fixtures/test_actors.ts";
import { CLUSTER_TEST, eventually, startTestCluster } from "./cluster_fixture.ts";

Deno.test({
  name: "placement - GPUs only where free, STRICT_SPREAD on distinct nodes, pending until a fitting agent joins",
  ...CLUSTER_TEST,
  async fn(t) {
    const local = await startTestCluster({
      agents: [
        { nodeId: "gpu01", cpus: 4, gpus: [0, 1] },
        { nodeId: "gpu2", cpus: 4, gpus: [2] },
        { nodeId: "cpu", cpus: 4 },
      ],
    });
    const cluster = local.client;
    try {
      await t.step("GPU actors land where GPUs are free and see only theirs", async () => {
        const gpuActors = await Promise.all(
          [0, 1, 2].map(() => cluster.spawn(Sleeper, { resources: { cpu: 0.5, gpu: 1 } })),
        );
        const seen = await Promise.all(gpuActors.map((a) => a.env("CUDA_VISIBLE_DEVICES")));
        assertEquals([...seen].sort(), ["0", "1", "2"]);
        const records = await cluster.actors();
        for (const actor of gpuActors) {
          const record = records.find((r) => r.id === actor.actorId)!;
          assert(record.nodeId === "gpu01" || record.nodeId === "gpu2", `GPU actor on ${record.nodeId}`);
        }
        const cpuActor = await cluster.spawn(Sleeper, { resources: { cpu: 2 }, labels: {} });
        assertEquals(await cpuActor.env("CUDA_VISIBLE_DEVICES"), "");
        assertEquals(await cpuActor.env("COOP_THREADS"), "2");
        // Every GPU is taken: the next GPU actor waits with a reason.
        const waiting = cluster.spawn(Sleeper, { resources: { gpu: 1 }, name: "gpu-waiter" });
        waiting.catch(() => {});
        const pending = await eventually("a pending reason", async () => {
          const record = (await cluster.actors()).find((r) => r.name === "gpu-waiter");
          return record?.state === "pending" && record.pendingReason ? record : undefined;
        });
        assert(/gpu/i.test(pending.pendingReason!), `reason names GPUs: ${pending.pendingReason}`);
        // Freeing a GPU places it.
        await cluster.kill(gpuActors[0]!);
        const placed = await waiting;
        assertEquals(await placed.env("CUDA_VISIBLE_DEVICES"), seen[0]);
      });

      await t.step("STRICT_SPREAD bundles land on distinct nodes", async () => {
        const group = await cluster.createPlacementGroup([{ cpu: 0.5 }, { cpu: 0.5 }, { cpu: 0.5 }], {
          strategy: "STRICT_SPREAD",
        });
        const ready = await group.ready();
        assertEquals(new Set(ready.nodes).size, 3);
        const members = await Promise.all(
          [0, 1, 2].map((i) =>
            cluster.spawn(Sleeper, { resources: { cpu: 0.5 }, placementGroup: group, bundleIndex: i })
          ),
        );
        const records = await cluster.actors();
        const nodes = members.map((m) => records.find((r) => r.id === m.actorId)!.nodeId);
        assertEquals(nodes, ready.nodes);
      });

      await t.step(
        "an unsatisfiable request stays pending with its reason, then is placed when a fitting agent joins",
        async () => {
          const waiting = cluster.spawn(Sleeper, { resources: { cpu: 1, tpu: 2 }, name: "tpu-user" });
          waiting.catch(() => {});
          const group = await cluster.createPlacementGroup([{ cpu: 0.5 }, { cpu: 0.5 }, { cpu: 0.5 }, { cpu: 0.5 }], {
            strategy: "STRICT_SPREAD",
          });
          const record = await eventually("the pending record", async () => {
            const found = (await cluster.actors()).find((r) => r.name === "tpu-user");
            return found?.pendingReason ? found : undefined;
          });
          assertEquals(record.state, "pending");
          assert(record.pendingReason!.includes("tpu"), `reason names the resource: ${record.pendingReason}`);
          await local.addAgent({ nodeId: "tpu-node", cpus: 2, resources: { tpu: 4 } });
          const actor = await waiting;
          const placed = (await cluster.actors()).find((r) => r.id === actor.actorId)!;
          assertEquals(placed.nodeId, "tpu-node");
          const ready = await group.ready(20_000);
          assertEquals(new Set(ready.nodes).size, 4);
        },
      );

      await t.step("a spawn that gives up (aborted, or not ready in time) kills its pending actor", async () => {
        const abort = new AbortController();
        const cancelled = cluster.spawn(Sleeper, {
          resources: { npu: 1 },
          name: "npu-cancelled",
          signal: abort.signal,
        });
        await eventually("the pending record", async () => {
          const found = (await cluster.actors()).find((r) => r.name === "npu-cancelled");
          return found?.state === "pending" ? found : undefined;
        });
        abort.abort();
        await assertRejects(() => cancelled, CancelledError, "npu-cancelled");
        await assertRejects(
          () => cluster.spawn(Sleeper, { resources: { npu: 1 }, name: "npu-late", readyTimeoutMs: 300 }),
          CallTimeoutError,
          "npu",
        );
        // Neither may be placed later behind the caller's back: both are dead, none is pending.
        const records = (await cluster.actors()).filter((r) => r.name?.startsWith("npu-"));
        assertEquals(records.map((r) => r.state).sort(), ["dead", "dead"]);
        await local.addAgent({ nodeId: "npu-node", cpus: 1, resources: { npu: 2 } });
        assertEquals((await cluster.actors()).filter((r) => r.nodeId === "npu-node").length, 0);
      });
    } finally {
      await local.stop();
    }
  },
});
