/**
 * Hostile input on the control plane of a real cluster: length-bomb frames to an actor, the coordinator and an
 * agent (decode errors, bounded memory, nobody crashes), and forged heartbeats and lifecycle events (rejected).
 */
import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import { Counter } from "../../actors/demo_actors.ts";
import { encode } from "../../shared/codec.ts";
import { BadArgumentsError, DecodeError } from "../../shared/errors.ts";
import { readReply } from "../../shared/protocol.ts";
import { nestedArrayBomb } from "./hostile_frames.ts";
import { CLUSTER_TEST, eventually, startTestCluster } from "./cluster_fixture.ts";

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
          { what: "heartbeat", subject: cluster.subjects.heartbeat("n1"), pid: local.coordinator.pid },
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

      await t.step("forged heartbeats, registrations and exit reports are refused or ignored", async () => {
        const home = record.nodeId!;
        const other = home === "n1" ? "n2" : "n1";
        const ask = async (subject: string, value: unknown) =>
          readReply(await transport.request(subject, encode(value), { timeoutMs: 5000 }), subject);
        // A heartbeat naming a node on another node's subject: with per-role credentials only `other` publishes there.
        for (let i = 0; i < 3; i++) {
          await assertRejects(
            () => ask(cluster.subjects.heartbeat(other), { nodeId: home, actors: [] }),
            BadArgumentsError,
            `names node "${home}"`,
          );
        }
        await assertRejects(
          () => ask(cluster.subjects.node(other), { op: "deregister", nodeId: home }),
          BadArgumentsError,
          "Refused a deregistration",
        );
        await assertRejects(
          () => ask(cluster.subjects.heartbeat(home), { nodeId: home, actors: [{ id: "x.y", incarnation: 0 }] }),
          BadArgumentsError,
          "actors.0.id",
        );
        const exited = (nodeId: string) => ({ type: "exited", actorId: record.id, incarnation: 0, code: 137, nodeId });
        // From the wrong node (the actor is not placed there), naming a node not the subject's, on the coordinator's
        // own state subject, and malformed: none may restart the actor.
        await transport.publish(cluster.subjects.report(record.id, other), encode(exited(other)));
        await transport.publish(cluster.subjects.report(record.id, other), encode(exited(home)));
        await transport.publish(cluster.subjects.lifecycle(record.id), encode(exited(home)));
        await transport.publish(cluster.subjects.report(record.id, home), encode({ ...exited(home), code: "x" }));
        await transport.publish(cluster.subjects.report("a-other", home), encode(exited(home)));
        await transport.flush();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const after = (await cluster.actors()).find((a) => a.id === record.id)!;
        assertEquals([after.state, after.restarts, after.incarnation, after.nodeId], ["alive", 0, 0, home]);
        assertEquals(await counter.incr(1), 3);
        assertEquals((await cluster.nodes()).map((n) => n.state), ["alive", "alive"]);
        const log = local.coordinator.output.join("\n");
        assert(
          log.includes(`ignored a "exited" report on "${record.id}" from node "${other}"`),
          "wrong-node report logged",
        );
        assert(log.includes("Refused an exit report"), "mismatched report logged");
      });

      await t.step("orders from a deposed leader (an epoch below the current one) are refused", async () => {
        const home = record.nodeId!;
        const order = (epoch: number) => ({ op: "stop", actor: record.id, incarnation: 0, graceful: false, epoch });
        // The agent learns the leader's epoch from its heartbeat replies within a beat.
        await eventually("a refusal naming the epoch", async () => {
          const reply = await transport.request(cluster.subjects.agent(home), encode(order(0)), { timeoutMs: 5000 });
          try {
            readReply(reply, "stale order");
          } catch (error) {
            return /leader epoch 0 is older than \d+/.test((error as Error).message) ? true : undefined;
          }
          throw new Error("a stop order of epoch 0 was accepted");
        });
        const after = (await cluster.actors()).find((a) => a.id === record.id)!;
        assertEquals([after.state, after.incarnation], ["alive", 0]);
        assertEquals(await counter.incr(1), 4);
      });
    } finally {
      await local.stop();
    }
  },
});
