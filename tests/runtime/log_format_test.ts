/**
 * `COOP_LOG_FORMAT=json`: a coordinator and an agent process (and the agent's actor host) write every diagnostic line
 * through the component logger, so a log shipper reading their stderr sees JSON records only.
 */
import { assert, assertEquals } from "./assert.ts";
import { Counter } from "../../actors/demo_actors.ts";
import { startLocalCluster } from "../../coordinator/local/mod.ts";
import { startNats } from "../harness.ts";
import { CLUSTER_TEST } from "./cluster_fixture.ts";

/** The lines of `output` that are not one JSON log record each. */
function notJson(output: string[]): string[] {
  return output.filter((line) => {
    if (line.trim() === "") return false;
    try {
      const record = JSON.parse(line);
      return typeof record.message !== "string" || typeof record.component !== "string";
    } catch {
      return true;
    }
  });
}

Deno.test({
  name: "log format - with COOP_LOG_FORMAT=json a coordinator and an agent print only JSON lines",
  ...CLUSTER_TEST,
  async fn() {
    const server = await startNats();
    try {
      const local = await startLocalCluster({
        natsUrl: server.url,
        cluster: "jsonlog",
        agents: [{ nodeId: "j1", cpus: 2 }],
        env: { COOP_LOG_FORMAT: "json" },
      });
      let stopped = false;
      try {
        const counter = await local.client.spawn(Counter, { name: "json-counter" }, 1);
        assertEquals(await counter.incr(1), 2);
        await local.stop();
        stopped = true;
        const coordinator = local.coordinator.output;
        const agent = local.agents.get("j1")!.output;
        assert(coordinator.some((l) => l.includes("ready")), `the coordinator said it is ready: ${coordinator}`);
        assert(agent.some((l) => l.includes("started")), `the agent said it started: ${agent}`);
        assertEquals(notJson(coordinator), [], "coordinator output");
        assertEquals(notJson(agent), [], "agent output");
      } finally {
        if (!stopped) await local.stop();
      }
    } finally {
      await server.stop();
    }
  },
});
