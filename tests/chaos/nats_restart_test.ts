/**
 * A nats-server restart under actor calls in flight: the caller learns at the disconnect that the reply is lost
 * (ConnectionLostError), resends the same call id, and the host answers it from its reply cache, so a method that
 * is not idempotent runs once and the call returns its one result, seconds after the restart rather than at the
 * 300 s call timeout.
 */
import { ok, strictEqual } from "node:assert/strict";
import { CLUSTER_TEST, eventually, startTestCluster } from "../runtime/cluster_fixture.ts";
import { RunCounter } from "./fixtures/chaos_actors.ts";

const REGISTRY = new URL("./fixtures/chaos_actors.ts", import.meta.url).pathname;

Deno.test({
  name: "nats restart - calls in flight complete once, without waiting out their timeout",
  ...CLUSTER_TEST,
  async fn() {
    const local = await startTestCluster({ agents: [{ nodeId: "r1", cpus: 2 }], registry: [REGISTRY] });
    try {
      const spawned = await local.client.spawn(RunCounter, { name: "counter" });
      const counter = spawned.options({ timeoutMs: 40_000 }); // a failure shows in 40 s, not at the 300 s default
      // One call finishes while the server is down (its reply is lost on the way), one after it is back.
      const started = performance.now();
      const calls = [counter.addSlowly(300), counter.addSlowly(4000)];
      await new Promise((resolve) => setTimeout(resolve, 100));
      await local.server.restart();
      const results = (await Promise.all(calls)).sort();
      const ms = performance.now() - started;
      strictEqual(await counter.runs(), 2, "each call ran exactly once");
      strictEqual(results.join(","), "1,2");
      ok(ms < 30_000, `the calls took ${Math.round(ms)} ms`);
      // The cluster itself serves again.
      await eventually("the coordinator answering", () => local.client.actors());
    } finally {
      await local.stop();
    }
  },
});

Deno.test({
  name: "nats restart - an outage longer than the node timeout declares no node dead and restarts no actor",
  ...CLUSTER_TEST,
  async fn() {
    // The faults test's fast settings: a node that misses heartbeats for 1.5 s is dead.
    const local = await startTestCluster({ agents: [{ nodeId: "o1", cpus: 2 }], registry: [REGISTRY], fast: true });
    try {
      const counter = await local.client.spawn(RunCounter, { name: "steady", maxRestarts: 1 });
      strictEqual(await counter.addSlowly(0), 1);
      // The coordinator's node check keeps ticking while it is cut off: it must not read the silence as deaths.
      await local.server.restart({ downMs: 4000 });
      await eventually("the coordinator answering", () => local.client.actors());
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const [node] = await local.client.nodes();
      strictEqual(node?.state, "alive", "the node outlived the outage");
      const [record] = (await local.client.actors()).filter((a) => a.name === "steady");
      strictEqual(record?.restarts, 0, "its actor was not restarted");
      strictEqual(await counter.options({ timeoutMs: 20_000 }).addSlowly(0), 2, "and kept its state");
    } finally {
      await local.stop();
    }
  },
});
