import { assert, assertEquals, assertInstanceOf, assertRejects } from "./assert.ts";
import { Cluster } from "../../actors/core/cluster.ts";
import { Counter } from "../../actors/demo_actors.ts";
import {
  ActorCallError,
  ActorDiedError,
  BackpressureError,
  BadArgumentsError,
  CallTimeoutError,
  ConfigError,
  NoRespondersError,
  NotFoundError,
  UnknownActorClassError,
  UnknownMethodError,
} from "../../shared/errors.ts";
import { Broken, Keeper, Sleeper, Thrower } from "./fixtures/test_actors.ts";
import { CLUSTER_TEST, eventually, startTestCluster } from "./cluster_fixture.ts";

Deno.test({
  name: "calls - spawn, call, errors, concurrency, backpressure, timeouts, retries, named actors, pools, kill",
  ...CLUSTER_TEST,
  async fn(t) {
    const local = await startTestCluster({ agents: [{ nodeId: "n1", cpus: 4 }, { nodeId: "n2", cpus: 4 }] });
    const cluster = local.client;
    const dir = await Deno.makeTempDir({ prefix: "coop-calls-" });
    try {
      await t.step("spawn and call a typed handle", async () => {
        const c = await cluster.spawn(Counter, { resources: { cpu: 1 }, name: "c1" }, 10);
        assertEquals(await c.incr(5), 15);
        assertEquals(await c.get(), 15);
        assertEquals(c.actorName, "c1");
      });

      await t.step("named actors: getActor finds the same actor; unknown names throw NotFoundError", async () => {
        const c = await cluster.getActor<Counter>("c1");
        assertEquals(await c.incr(1), 16);
        await assertRejects(() => cluster.getActor("nope"), NotFoundError);
        await assertRejects(() => cluster.spawn(Counter, { name: "c1" }), BadArgumentsError, "exists");
      });

      await t.step("remote errors keep their class name, message and remote stack", async () => {
        const thrower = await cluster.spawn(Thrower, {});
        const error = await assertRejects(() => thrower.fail("boom"), ActorCallError);
        assertEquals(error.remoteName, "RangeError");
        assertEquals(error.message, "boom");
        assert(error.remoteStack?.includes("fail"), "remote stack names the method");
        const custom = await assertRejects(() => thrower.failCustom(), ActorCallError);
        assertEquals(custom.remoteName, "QuotaExceeded");
        // The actor keeps serving after errors.
        assertEquals(await thrower.typed(2, "x"), "x:4");
      });

      await t.step("bad input: unknown method, wrong argument types, unknown class, failing constructor", async () => {
        const thrower = await cluster.getActor<Thrower>(
          (await cluster.actors()).find((a) => a.className === "Thrower")!.id,
        );
        const unknown = thrower as unknown as { nothere(): Promise<unknown>; constructor(): Promise<unknown> };
        await assertRejects(() => unknown.nothere(), UnknownMethodError, "nothere");
        const bad = thrower as unknown as { typed(a: string, b: number): Promise<string> };
        await assertRejects(() => bad.typed("two", 2), BadArgumentsError, "typed");
        const hidden = thrower as unknown as { _private(): Promise<unknown>; toString(): Promise<unknown> };
        await assertRejects(() => hidden._private(), UnknownMethodError);
        class NotRegistered {}
        await assertRejects(() => cluster.spawn(NotRegistered, {}), UnknownActorClassError, "NotRegistered");
        const broken = await assertRejects(() => cluster.spawn(Broken, {}), ActorCallError);
        assertEquals(broken.remoteName, "TypeError");
        assertEquals(await thrower.typed(1, "still"), "still:2");
      });

      await t.step("actor stdout/stderr lines are retrievable per actor", async () => {
        const thrower = await cluster.spawn(Thrower, {});
        await thrower.log("hello from the actor");
        const lines = await eventually("log lines", async () => {
          const logs = await cluster.logs(thrower);
          return logs.some((l) => l.line === "hello from the actor") ? logs : undefined;
        });
        assert(lines.some((l) => l.stream === "stderr" && l.line === "err: hello from the actor"));
      });

      await t.step("maxConcurrency bounds calls running at once", async () => {
        const one = await cluster.spawn(Sleeper, { resources: { cpu: 0.5 } });
        const four = await cluster.spawn(Sleeper, { resources: { cpu: 0.5 }, maxConcurrency: 4 });
        await Promise.all(Array.from({ length: 8 }, () => one.nap(20)));
        await Promise.all(Array.from({ length: 8 }, () => four.nap(100)));
        assertEquals(await one.maxSeen(), 1);
        assert(await four.maxSeen() > 1, "four-way actor ran calls concurrently");
        assert(await four.maxSeen() <= 4, "four-way actor never ran more than 4");
      });

      await t.step("maxPendingCalls raises BackpressureError on the caller", async () => {
        const s = await cluster.spawn(Sleeper, { resources: { cpu: 0.5 }, maxPendingCalls: 2 });
        const first = s.nap(300);
        const second = s.nap(300);
        await assertRejects(() => s.nap(1), BackpressureError, "maxPendingCalls 2");
        await Promise.all([first, second]);
        assertEquals(typeof await s.nap(1), "number");
      });

      await t.step("per-call timeouts raise CallTimeoutError; options() returns a new handle", async () => {
        const s = await cluster.spawn(Sleeper, { resources: { cpu: 0.5 }, maxConcurrency: 2 });
        const quick = s.options({ timeoutMs: 100 });
        await assertRejects(() => quick.nap(2000), CallTimeoutError);
        assertEquals(typeof await s.nap(1), "number");
      });

      await t.step("idempotent methods are retried after the actor dies mid-call; others fail", async () => {
        const file = `${dir}/keeper`;
        const keeper = await cluster.spawn(Keeper, { maxRestarts: 5, maxTaskRetries: 2 }, file);
        assertEquals(await keeper.add(7), 7);
        assertEquals(await keeper.crashOnce(`${dir}/marker1`), 7);
        await assertRejects(() => keeper.crashOnceUnsafe(`${dir}/marker2`), ActorDiedError);
        assertEquals(await keeper.value(), 7);
        assertEquals(await keeper.restoredAt(), 2);
      });

      await t.step("pools: map keeps order, mapUnordered yields all, submit picks the least loaded", async () => {
        const counters = await Promise.all([0, 1, 2].map(() => cluster.spawn(Counter, { resources: { cpu: 0.5 } })));
        const pool = cluster.pool(counters);
        const ordered: number[] = [];
        for await (const v of pool.map((c, v: number) => c.incr(0).then(() => v * 2), [1, 2, 3, 4, 5, 6, 7])) {
          ordered.push(v);
        }
        assertEquals(ordered, [2, 4, 6, 8, 10, 12, 14]);
        const unordered: number[] = [];
        for await (const v of pool.mapUnordered((c, v: number) => c.incr(0).then(() => v), [1, 2, 3, 4, 5])) {
          unordered.push(v);
        }
        assertEquals(unordered.sort(), [1, 2, 3, 4, 5]);
        const used = new Set<string>();
        await Promise.all([0, 1, 2].map(() => pool.submit(async (c) => (used.add(c.actorId), await c.incr(1)))));
        assertEquals(used.size, 3);
      });

      await t.step("clusters are namespaced: a cluster without a coordinator says so", async () => {
        const other = new Cluster(cluster.transport, { cluster: "nobody-here" });
        await assertRejects(() => other.nodes(), NoRespondersError, "coop up");
        assertEquals((await cluster.nodes()).length, 2);
      });

      await t.step("kill: later calls raise ActorDiedError; the name is free again", async () => {
        const c = await cluster.getActor<Counter>("c1");
        await cluster.kill(c);
        await assertRejects(() => c.get(), ActorDiedError, "dead");
        const again = await cluster.spawn(Counter, { name: "c1" }, 1);
        assertEquals(await again.get(), 1);
      });
    } finally {
      await local.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("calls - handle misuse errors say the right call", async () => {
  const cluster = new Cluster({} as never);
  const spawn = cluster.spawn.bind(cluster) as (cls: unknown, options: object) => Promise<unknown>;
  const error = await assertRejects(() => spawn(new Counter(), {}), Error, "cluster.spawn(Counter");
  assertInstanceOf(error, ConfigError);
});
