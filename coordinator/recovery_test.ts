/**
 * Per-record scheduler state on a real nats-server: one small KV key per placed/queued actor and per node, no
 * whole-state key; a successor coordinator on the same bucket rebuilds the same placements and queue, releases an
 * entry the actor records contradict (a crash between two writes), and takes over an older whole-state key once.
 */
import { assert, assertEquals } from "../tests/runtime/assert.ts";
import { CLUSTER_TEST, eventually } from "../tests/runtime/cluster_fixture.ts";
import { startNats } from "../tests/harness.ts";
import { SimNodes } from "../tests/chaos/sim_nodes.ts";
import { encode } from "../shared/codec.ts";
import { connectNats } from "../shared/nats_transport.ts";
import { type ActorRecord, readReply } from "../shared/protocol.ts";
import { subjects } from "../shared/subjects.ts";
import type { KvStore, Transport } from "../shared/transport.ts";
import { Coordinator } from "./coordinator.ts";
import { Scheduler } from "./scheduler/mod.ts";
import { StateStore } from "./state_store.ts";

const names = subjects("recovery");
const NODES = ["n1", "n2", "n3"].map((id) => ({ id, cpus: 4, gpuIds: [], memoryMb: 4096, custom: {}, labels: {} }));

async function spawn(transport: Transport, cpu: number): Promise<ActorRecord> {
  const request = { op: "spawn", className: "X", options: { resources: { cpu } }, idempotent: [], args: encode([]) };
  const reply = await transport.request(names.coordinator, encode(request), { timeoutMs: 10_000 });
  return readReply(reply, "spawn") as ActorRecord;
}

async function keysOf(kv: KvStore, prefix: string): Promise<string[]> {
  return (await kv.keys()).filter((k) => k.startsWith(prefix)).sort();
}

async function withCluster(fn: (transport: Transport, kv: KvStore) => Promise<void>): Promise<void> {
  const server = await startNats();
  const transport = await connectNats({ servers: server.url });
  try {
    await fn(transport, await transport.kv(names.stateBucket));
  } finally {
    await transport.close();
    await server.stop();
  }
}

function coordinatorOn(transport: Transport, kv: KvStore): Coordinator {
  return new Coordinator(transport, new StateStore(kv), { cluster: "recovery", nodeTimeoutMs: 60_000 });
}

Deno.test({
  name: "scheduler state - one key per record, rebuilt and reconciled by a successor coordinator",
  ...CLUSTER_TEST,
  async fn() {
    await withCluster(async (transport, kv) => {
      const sim = new SimNodes({ transport, subjects: names, nodes: NODES });
      const first = coordinatorOn(transport, kv);
      await first.start();
      await sim.register();
      const actors: ActorRecord[] = [];
      for (let i = 0; i < 15; i++) actors.push(await spawn(transport, 1)); // 12 fit, 3 wait
      assertEquals(actors.filter((a) => a.state === "pending").length, 3);
      assertEquals((await keysOf(kv, "sched.actor.")).length, 15);
      assertEquals((await keysOf(kv, "sched.node.")).length, 3);
      assertEquals(await kv.get("scheduler"), null, "no whole-state key");
      for (const key of await keysOf(kv, "sched.")) {
        const size = (await kv.get(key))!.byteLength;
        assert(size < 512, `${key} is ${size} bytes: entries must not grow with the cluster`);
      }
      const before = first.usage();
      await first.stop();

      // A crash between two writes: a placement entry for an actor with no record, holding 2 cpus on n1.
      const ghost = new Scheduler();
      ghost.addNode({ id: "n1", cpu: 8 });
      ghost.place("a-ghost", { cpu: 2 });
      const entry = ghost.takeChanges().actors[0]![1];
      await kv.put("sched.actor.a-ghost", encode(entry));

      const second = coordinatorOn(transport, kv);
      await second.start();
      assertEquals(second.usage(), before, "same placements and free resources; the ghost is released");
      assertEquals(await kv.get("sched.actor.a-ghost"), null, "the released entry is deleted from KV");
      // The queue survived in order: freeing one node's worth of cpus places the oldest waiting actors.
      const waiting = actors.filter((a) => a.state === "pending").map((a) => a.id);
      const onN1 = second.snapshot().actors.filter((a) => a.nodeId === "n1").slice(0, 2);
      for (const a of onN1) {
        await transport.request(names.coordinator, encode({ op: "kill", actor: a.id, graceful: false }), {
          timeoutMs: 5000,
        });
      }
      const placed = await eventually("two waiting actors placed", () => {
        const now = second.snapshot().actors.filter((a) => waiting.includes(a.id) && a.nodeId !== undefined);
        return Promise.resolve(now.length === 2 ? now.map((a) => a.id) : undefined);
      });
      assertEquals(placed.sort(), waiting.slice(0, 2).sort());
      await second.stop();
      sim.close();
    });
  },
});

Deno.test({
  name: "scheduler state - a bucket holding an older coordinator's whole-state key is migrated to per-record keys",
  ...CLUSTER_TEST,
  async fn() {
    await withCluster(async (transport, kv) => {
      const legacy = new Scheduler();
      legacy.addNode({ id: "n1", cpu: 4 });
      legacy.enqueue("a-waiting", { cpu: 8 });
      await kv.put("scheduler", encode(legacy.toJSON()));
      const coordinator = coordinatorOn(transport, kv);
      await coordinator.start();
      assertEquals(await kv.get("scheduler"), null);
      assertEquals(await keysOf(kv, "sched."), ["sched.node.n1"], "the queued actor without a record is released");
      assertEquals(coordinator.usage().map((n) => [n.id, n.total.cpu]), [["n1", 4]]);
      await coordinator.stop();
    });
  },
});
