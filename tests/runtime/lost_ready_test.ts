/**
 * A `ready` report sent while no coordinator runs is lost: the next coordinator must still learn that the actor
 * serves (it pings the host once the start grace has passed) instead of leaving it "starting" for ever.
 */
import { assert, assertEquals } from "./assert.ts";
import { encode } from "../../shared/codec.ts";
import { type ActorRecord, encodeCall, PING_METHOD, readReply } from "../../shared/protocol.ts";
import { CLUSTER_TEST, eventually, startTestCluster } from "./cluster_fixture.ts";

Deno.test({
  name: "recovery - an actor whose ready report was lost while the coordinator was down comes up alive",
  ...CLUSTER_TEST,
  async fn() {
    const local = await startTestCluster({ agents: [{ nodeId: "n1", cpus: 2 }] });
    const transport = local.client.transport;
    try {
      // Spawn by hand: the coordinator answers once the start order is out, before the host is ready.
      const spawn = { op: "spawn", className: "Counter", options: {}, idempotent: [], args: encode([5]) };
      const reply = await transport.request(local.client.subjects.coordinator, encode(spawn), { timeoutMs: 10_000 });
      const record = readReply(reply, "spawn") as ActorRecord;
      assert(record.state === "starting", `spawned in state ${record.state}`);
      local.coordinator.signal("SIGKILL");
      await local.coordinator.status;
      // The host comes up and reports ready to nobody.
      const subject = local.client.subjects.call(record.id, record.incarnation);
      const pid = await eventually("the host to serve", async () => {
        const answer = await transport.request(subject, encodeCall(PING_METHOD, []), { timeoutMs: 1000 });
        return readReply(answer, "ping") as number;
      });
      await local.restartCoordinator();
      const alive = await eventually("the actor alive", async () => {
        const found = (await local.client.actors()).find((a) => a.id === record.id);
        return found?.state === "alive" ? found : undefined;
      }, 30_000);
      assertEquals([alive.pid, alive.restarts, alive.incarnation], [pid, 0, 0]);
      const answer = await transport.request(subject, encodeCall("incr", [1]), { timeoutMs: 5000 });
      assertEquals(readReply(answer, "incr"), 6);
    } finally {
      await local.stop();
    }
  },
});
