/**
 * Hostile input on the control plane of a real cluster: length-bomb frames to an actor, the coordinator and an
 * agent (decode errors, bounded memory, nobody crashes), and forged heartbeats and lifecycle events (rejected).
 */
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { Counter } from "../../actors/demo_actors.ts";
import { DecodeError } from "../../shared/errors.ts";
import { readReply } from "../../shared/protocol.ts";
import { nestedArrayBomb } from "./hostile_frames.ts";
import { CLUSTER_TEST, startTestCluster } from "./cluster_fixture.ts";

/** Peak resident set of a process in MiB (Linux `VmHWM`). */
async function peakRssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  assert(Number.isFinite(kb), `VmHWM of pid ${pid}`);
  return kb / 1024;
}

Deno.test({
  name: "guard - length bombs, forged heartbeats and forged lifecycle events on a live cluster",
  ...CLUSTER_TEST,
  async fn(t) {
    const local = await startTestCluster({ agents: [{ nodeId: "n1", cpus: 4 }, { nodeId: "n2", cpus: 4 }] });
    const cluster = local.client;
    const transport = cluster.transport;
    try {
      const counter = await cluster.spawn(Counter, { name: "guarded", resources: { cpu: 1 } }, 0);
      const record = (await cluster.actors()).find((a) => a.name === "guarded")!;
      assert(record.pid !== undefined && record.nodeId !== undefined, "the actor runs with a pid");

      await t.step("a length bomb to an actor, the coordinator and an agent: DecodeError, bounded memory", async () => {
        // 3 KB that made an unguarded decoder allocate ~470 MB (see shared/msgpack_bounds.ts).
        const bomb = nestedArrayBomb(1000);
        const targets = [
          { what: "actor", subject: cluster.subjects.call(record.id, record.incarnation), pid: record.pid! },
          { what: "coordinator", subject: cluster.subjects.coordinator, pid: local.coordinator.pid },
          { what: "heartbeat", subject: cluster.subjects.heartbeat, pid: local.coordinator.pid },
          { what: "agent", subject: cluster.subjects.agent("n1"), pid: local.agents.get("n1")!.pid },
        ];
        for (const target of targets) {
          const before = await peakRssMb(target.pid);
          for (let i = 0; i < 3; i++) {
            const reply = await transport.request(target.subject, bomb, { timeoutMs: 10_000 });
            assertThrows(() => readReply(reply, target.what), DecodeError, "items announced");
          }
          const grown = (await peakRssMb(target.pid)) - before;
          assert(grown < 100, `${target.what}: peak RSS grew ${grown.toFixed(0)} MiB on 3 KB frames`);
        }
        assertEquals(await counter.incr(2), 2);
        assertEquals((await cluster.nodes()).filter((n) => n.state === "alive").length, 2);
      });
    } finally {
      await local.stop();
    }
  },
});
