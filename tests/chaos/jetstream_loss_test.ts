/**
 * JetStream loss on a real nats-server: its store dir is wiped and it is started again on the same port, once under
 * a running coordinator (it recreates the bucket and writes its records back from memory) and once together with a
 * coordinator crash (the new coordinator finds an empty bucket and a lease revision below the agents' epoch: it
 * raises its epoch above theirs and adopts the actors they report). In both cases the actor process keeps running
 * with its state, and new orders are obeyed (the epoch never went backwards for the agent).
 */
import { assert, assertEquals } from "../runtime/assert.ts";
import { CLUSTER_TEST, eventually, TEST_REGISTRY } from "../runtime/cluster_fixture.ts";
import { Counter } from "../../actors/demo_actors.ts";
import { type NatsServer, startNats } from "../harness.ts";
import { startLocalCluster } from "../../coordinator/local/mod.ts";
import { decode } from "../../shared/codec.ts";
import type { Transport } from "../../shared/transport.ts";

/** Stops the server, deletes its JetStream store and starts an empty one where clients expect it. */
async function wipe(server: NatsServer): Promise<NatsServer> {
  await server.stop(); // removes its work dir, store included
  return await startNats({ port: server.port });
}

/** Resolves once the client is connected again (a request made while reconnecting would wait its full timeout). */
function connected(transport: Transport): Promise<true> {
  return eventually("the client reconnected", async () => {
    const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000));
    return await Promise.race([transport.flush().then(() => true as const), timeout]);
  });
}

Deno.test({
  name: "jetstream loss - wiped store: actors keep running, state is rebuilt, the epoch never goes backwards",
  ...CLUSTER_TEST,
  async fn(t) {
    let server = await startNats();
    const local = await startLocalCluster({
      natsUrl: server.url,
      agents: [{ nodeId: "n1", cpus: 4 }],
      registry: [TEST_REGISTRY],
      heartbeatMs: 200,
      nodeTimeoutMs: 1500,
    });
    const cluster = local.client;
    const bucket = () => cluster.transport.kv(cluster.subjects.stateBucket);
    try {
      const counter = await cluster.spawn(Counter, { name: "survivor", maxRestarts: 2 }, 40);
      const before = await counter.where();
      assertEquals(await counter.incr(2), 42);
      // A takeover first, so the agent's epoch is above 1, where a lease in a recreated bucket starts.
      local.coordinator.signal("SIGKILL");
      await local.coordinator.status;
      await local.restartCoordinator();
      const epochBefore = (decode((await (await bucket()).get("leader"))!) as { minEpoch?: number }).minEpoch ?? 0;
      assert(epochBefore > 1, `a takeover sets minEpoch above the previous revision (${epochBefore})`);

      await t.step("under a running coordinator: the bucket is recreated from its memory", async () => {
        server = await wipe(server);
        await connected(cluster.transport);
        const where = await eventually("the actor answering", () => counter.options({ timeoutMs: 2000 }).where());
        assertEquals([where.pid, where.restarts], [before.pid, 0], "same process, never restarted");
        assertEquals(await counter.incr(1), 43);
        // A spawn writes KV: it succeeds once the coordinator has recreated the bucket.
        const other = await eventually(
          "a spawn after the wipe",
          () => cluster.spawn(Counter, { name: "after-wipe" }, 1),
        );
        assertEquals(await other.incr(1), 2, "the agent obeys the coordinator's orders");
        const keys = await (await bucket()).keys();
        for (
          const key of ["meta.state", "sched.node.n1", `actor.${counter.actorId}`, `sched.actor.${counter.actorId}`]
        ) {
          assert(keys.includes(key), `${key} written back from memory (keys: ${keys})`);
        }
        const leader = await eventually("the lease key re-created", async () => {
          const value = await (await bucket()).get("leader");
          return value === null ? undefined : decode(value) as { minEpoch?: number };
        });
        // The takeover's epoch is max(its revision, minEpoch): the recreated key carries at least that as its floor.
        assert((leader.minEpoch ?? 0) >= epochBefore, `the recreated lease keeps the epoch (${leader.minEpoch})`);
      });

      await t.step("with a coordinator crash: the new one adopts what the agent runs, above its epoch", async () => {
        local.coordinator.signal("SIGKILL");
        await local.coordinator.status;
        server = await wipe(server);
        await connected(cluster.transport);
        await local.restartCoordinator();
        const adopted = await eventually("the survivor adopted", async () => {
          const found = (await cluster.actors().catch(() => [])).find((a) => a.id === counter.actorId);
          return found?.state === "alive" ? found : undefined;
        }, 30_000);
        assertEquals([adopted.nodeId, adopted.restarts], ["n1", 0]);
        assertEquals((await counter.where()).pid, before.pid, "the same process");
        assertEquals(await counter.incr(1), 44, "its state survived");
        const leader = decode((await (await bucket()).get("leader"))!) as { minEpoch?: number };
        assert((leader.minEpoch ?? 0) > epochBefore, `raised above the agent's ${epochBefore}: ${leader.minEpoch}`);
        // A start order from the new leader is obeyed: its epoch is not below what the agent has seen.
        const fresh = await cluster.spawn(Counter, { name: "after-crash" }, 7);
        assertEquals(await fresh.incr(1), 8);
        const usage = (await cluster.nodes()).find((n) => n.id === "n1");
        assertEquals(usage?.state, "alive");
      });
    } finally {
      await local.stop();
      await server.stop();
    }
  },
});
