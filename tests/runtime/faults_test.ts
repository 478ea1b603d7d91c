import { assert, assertEquals, assertRejects } from "./assert.ts";
import { Counter } from "../../actors/demo_actors.ts";
import { ActorDiedError } from "../../shared/errors.ts";
import { Keeper } from "./fixtures/test_actors.ts";
import { CLUSTER_TEST, eventually, startTestCluster } from "./cluster_fixture.ts";

Deno.test({
  name: "faults - kill -9 an actor, kill an agent, restart the coordinator, restart nats-server",
  ...CLUSTER_TEST,
  async fn(t) {
    const local = await startTestCluster({
      agents: [{ nodeId: "n1", cpus: 4 }, { nodeId: "n2", cpus: 4 }],
      fast: true,
    });
    const cluster = local.client;
    const dir = await Deno.makeTempDir({ prefix: "coop-faults-" });
    try {
      await t.step("kill -9 an actor process: the in-flight call fails typed, restore reloads state", async () => {
        const keeper = await cluster.spawn(Keeper, { name: "keeper", maxRestarts: 2 }, `${dir}/keeper`);
        assertEquals(await keeper.add(5), 5);
        const pid = await keeper.pid();
        const inFlight = keeper.slow(10_000);
        await new Promise((resolve) => setTimeout(resolve, 200));
        Deno.kill(pid, "SIGKILL");
        await assertRejects(() => inFlight, ActorDiedError, "exited");
        // Later calls wait for the restarted actor, which restored its checkpoint.
        assertEquals(await keeper.value(), 5);
        assertEquals(await keeper.restoredAt(), 1);
        assert(await keeper.pid() !== pid, "a new process serves the actor");
        assertEquals(await keeper.add(1), 6);
      });

      await t.step("kill -9 an agent: its actors are rescheduled on the other agent", async () => {
        const counter = await cluster.spawn(Counter, { name: "mover", maxRestarts: 3 }, 40);
        const before = await counter.where();
        const other = before.nodeId === "n1" ? "n2" : "n1";
        local.agents.get(before.nodeId)!.signal("SIGKILL");
        // The actor restarts from its constructor arguments (it has no restore hook).
        const after = await eventually("the actor on the other node", async () => {
          const where = await counter.options({ timeoutMs: 2000 }).where();
          return where.nodeId === other ? where : undefined;
        });
        assertEquals(after.restarts, 1);
        assertEquals(await counter.incr(2), 42);
        const node = (await cluster.nodes()).find((n) => n.id === before.nodeId);
        assertEquals(node?.state, "dead");
        // The orphaned actor process of the dead agent exits with it (its stdin closes).
        await eventually("the old actor process to exit", () => {
          try {
            Deno.kill(before.pid, "SIGCONT");
            return Promise.resolve(undefined);
          } catch {
            return Promise.resolve(true);
          }
        });
        // Bring the node back for the next steps.
        await local.addAgent({ nodeId: before.nodeId, cpus: 4 });
      });

      await t.step("SIGTERM an agent: it leaves, its actors restart on another agent", async () => {
        const counter = await cluster.spawn(Counter, { name: "drained", maxRestarts: 1 }, 5);
        const before = await counter.where();
        const status = await local.agents.get(before.nodeId)!.stop();
        assertEquals(status.code, 0);
        const after = await counter.where();
        assert(after.nodeId !== before.nodeId, "moved to another node");
        assertEquals(await counter.incr(1), 6);
        await local.addAgent({ nodeId: before.nodeId, cpus: 4 });
      });

      await t.step("restart the coordinator (kill -9): handles keep working, state comes back from KV", async () => {
        const counter = await cluster.getActor<Counter>("mover");
        const before = await cluster.actors();
        local.coordinator.signal("SIGKILL");
        await local.coordinator.status;
        // Calls never go through the coordinator.
        assertEquals(await counter.incr(1), 43);
        await local.restartCoordinator();
        const after = await cluster.actors();
        assertEquals(
          after.map((a) => [a.id, a.name, a.state]).sort(),
          before.map((a) => [a.id, a.name, a.state]).sort(),
        );
        assertEquals((await cluster.getActor<Counter>("mover")).actorId, counter.actorId);
        const nodes = await cluster.nodes();
        assertEquals(nodes.filter((n) => n.state === "alive").map((n) => n.id).sort(), ["n1", "n2"]);
        const fresh = await cluster.spawn(Counter, {}, 7);
        assertEquals(await fresh.incr(1), 8);
        // Agents keep heartbeating to the new coordinator: nobody is declared dead after the timeout.
        await new Promise((resolve) => setTimeout(resolve, 2000));
        assertEquals((await cluster.nodes()).filter((n) => n.state === "alive").length, 2);
        assertEquals(await counter.incr(1), 44);
      });

      await t.step("restart nats-server: every process reconnects and carries on", async () => {
        const counter = await cluster.getActor<Counter>("mover");
        const keeper = await cluster.getActor<Keeper>("keeper");
        await local.server.restart();
        // Wait with an idempotent call: retrying `incr` after a timeout whose call did run would count twice.
        await eventually("a call after the restart", () => counter.options({ timeoutMs: 2000 }).get());
        assertEquals(await counter.incr(1), 45);
        assertEquals(await keeper.value(), 6);
        const spawned = await eventually(
          "a spawn after the restart",
          () => cluster.spawn(Counter, { readyTimeoutMs: 10_000 }, 1),
        );
        assertEquals(await spawned.incr(1), 2);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        assertEquals((await cluster.nodes()).filter((n) => n.state === "alive").length, 2);
        assertEquals(await counter.incr(1), 46);
      });
    } finally {
      await local.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
