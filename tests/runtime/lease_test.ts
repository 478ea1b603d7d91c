import { assert, assertEquals } from "./assert.ts";
import { Counter } from "../../actors/demo_actors.ts";
import { ManagedProcess } from "../../coordinator/local/mod.ts";
import { Thrower } from "./fixtures/test_actors.ts";
import { CLUSTER_TEST, eventually, startCoordinatorProcess, startTestCluster } from "./cluster_fixture.ts";
import { acquireLease, type Lease, LEASE_KEY, LeaseHeldError } from "../../coordinator/lease.ts";
import { encode } from "../../shared/codec.ts";
import { connectNats } from "../../shared/nats_transport.ts";
import { startNats } from "../harness.ts";

Deno.test({
  name: "lease - one coordinator per cluster: a second one is refused or stands by, takes over after kill -9",
  ...CLUSTER_TEST,
  async fn(t) {
    const local = await startTestCluster({
      agents: [{ nodeId: "n1", cpus: 4 }],
      fast: true,
      // Its own cluster name: a stray "default"/"n1" process of another run can never talk to this one.
      cluster: "leased",
    });
    const cluster = local.client;
    const coordinator = (args: string[]) =>
      startCoordinatorProcess({
        natsUrl: local.natsUrl,
        cluster: "leased",
        args: ["--node-timeout-ms", "1500", ...args],
      });
    const extra: ManagedProcess[] = [];
    try {
      const thrower = await cluster.spawn(Thrower, { name: "talker" });
      const counter = await cluster.spawn(Counter, { name: "counted" }, 10);
      for (let i = 0; i < 5; i++) await thrower.log(`before restart ${i}`);
      await eventually("the log lines", async () => {
        const logs = await cluster.logs(thrower);
        return logs.filter((l) => l.line.startsWith("before restart")).length === 5 ? true : undefined;
      });

      await t.step("--no-standby: refused with an error naming the holder and the cluster", async () => {
        const refused = coordinator(["--no-standby"]);
        extra.push(refused);
        const status = await refused.status;
        assert(!status.success, "the second coordinator exits with an error");
        const text = refused.output.join("\n");
        assert(text.includes("LeaseHeldError") || text.includes("holds the lease"), text);
        assert(text.includes(`pid ${local.coordinator.pid}`), `names the holder's pid: ${text}`);
        assert(text.includes(`cluster "leased"`), `names the cluster: ${text}`);
        assertEquals(await counter.incr(1), 11);
      });

      await t.step("a standby waits while the leader lives and takes over after kill -9", async () => {
        const standby = coordinator([]);
        extra.push(standby);
        await eventually("the standby message", () =>
          Promise.resolve(
            standby.output.some((l) => l.includes("standing by") && l.includes(`pid ${local.coordinator.pid}`))
              ? true
              : undefined,
          ));
        assert(!standby.output.some((l) => l.includes("ready")), "the standby does not serve");
        local.coordinator.signal("SIGKILL");
        await local.coordinator.status;
        await eventually(
          "the standby to lead",
          () => Promise.resolve(standby.output.some((l) => l.includes("ready")) ? true : undefined),
        );
        // State and logs come back from JetStream: the new leader never saw these lines being published.
        assertEquals((await cluster.getActor<Counter>("counted")).actorId, counter.actorId);
        const logs = await cluster.logs(thrower);
        assertEquals(
          logs.filter((l) => l.stream === "stdout" && l.line.startsWith("before restart")).map((l) => l.line),
          [0, 1, 2, 3, 4].map((i) => `before restart ${i}`),
        );
        assertEquals(await counter.incr(1), 12);
        await thrower.log("after restart");
        await eventually("a line logged after the takeover", async () => {
          const lines = await cluster.logs(thrower);
          return lines.some((l) => l.line === "after restart") ? true : undefined;
        });
        const nodes = await cluster.nodes();
        assertEquals(nodes.filter((n) => n.state === "alive").map((n) => n.id), ["n1"]);
      });

      await t.step("a clean stop releases the lease: the next coordinator leads at once", async () => {
        const leader = extra.at(-1)!;
        const status = await leader.stop();
        assertEquals(status.code, 0);
        const next = coordinator(["--no-standby"]);
        extra.push(next);
        await eventually(
          "the next coordinator to lead",
          () => Promise.resolve(next.output.some((l) => l.includes("ready")) ? true : undefined),
        );
        assertEquals(await counter.incr(1), 13);
      });

      await t.step("--no-standby after a kill -9: the dead holder does not renew, so it is taken over", async () => {
        const dead = extra.at(-1)!;
        dead.signal("SIGKILL");
        await dead.status;
        const next = coordinator(["--no-standby"]);
        extra.push(next);
        await eventually(
          "the coordinator to take over",
          () => Promise.resolve(next.output.some((l) => l.includes("ready")) ? true : undefined),
        );
        assert(!next.output.some((l) => l.includes("holds the lease")), next.output.join("\n"));
        assertEquals(await counter.incr(1), 14);
      });
    } finally {
      await Promise.all(extra.map((p) => p.stop()));
      await local.stop();
    }
  },
});

Deno.test("lease - CAS: racing acquirers get one lease; an overwritten lease is reported lost", async () => {
  const server = await startNats();
  const transport = await connectNats({ servers: server.url });
  const leases: Lease[] = [];
  try {
    const kv = await transport.kv("coop_lease_state");
    const results = await Promise.allSettled(
      [1, 2, 3].map(() => acquireLease(kv, "race", { standby: false, renewMs: 100 })),
    );
    const won = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    leases.push(...won);
    assertEquals(won.length, 1);
    const lost = results.filter((r) => r.status === "rejected").map((r) => r.reason);
    assertEquals(lost.length, 2);
    for (const error of lost) {
      assert(error instanceof LeaseHeldError, String(error));
      assertEquals(error.holder.id, won[0]!.holder.id);
      assert(error.message.includes(`cluster "race"`), error.message);
    }
    // Someone wrote the key behind the holder's back (a partitioned holder whose lease expired elsewhere).
    await kv.put(LEASE_KEY, encode({ host: "elsewhere", pid: 1, id: "other", since: Date.now() }));
    const reason = await won[0]!.lost;
    assert(reason.includes(`host "elsewhere"`), reason);
  } finally {
    for (const lease of leases) await lease.release();
    await transport.close();
    await server.stop();
  }
});
