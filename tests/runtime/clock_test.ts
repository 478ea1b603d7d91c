/**
 * Timeouts follow a monotonic clock: a coordinator (in this process, on a real nats-server) whose wall clock is
 * stepped back an hour still declares a silent node dead after `nodeTimeoutMs`, and one stepped forward an hour does
 * not declare a beating node dead.
 */
import { assertEquals } from "./assert.ts";
import { Coordinator } from "../../coordinator/coordinator.ts";
import { StateStore } from "../../coordinator/state_store.ts";
import { encode } from "../../shared/codec.ts";
import { connectNats } from "../../shared/nats_transport.ts";
import { type NodeInfo, readReply } from "../../shared/protocol.ts";
import { subjects } from "../../shared/subjects.ts";
import { startNats } from "../harness.ts";
import { CLUSTER_TEST, eventually } from "./cluster_fixture.ts";

const realNow = Date.now;

function node(id: string): NodeInfo {
  return { id, hostname: "h", cpus: 1, gpuIds: [], memoryMb: 1024, custom: {}, labels: {}, actors: [] };
}

Deno.test({
  name: "clock - node timeouts ignore wall-clock steps (monotonic), both ways",
  ...CLUSTER_TEST,
  async fn() {
    const server = await startNats();
    const transport = await connectNats({ servers: server.url });
    const names = subjects("clock");
    const coordinator = new Coordinator(transport, new StateStore(await transport.kv(names.stateBucket)), {
      cluster: "clock",
      nodeTimeoutMs: 1200,
    });
    let offset = 0;
    Date.now = () => realNow() + offset;
    try {
      await coordinator.start();
      const ask = async (subject: string, value: unknown) =>
        readReply(await transport.request(subject, encode(value), { timeoutMs: 3000 }), subject);
      for (const id of ["beating", "silent"]) await ask(names.node(id), { op: "register", node: node(id) });
      let beating = true;
      const beats = (async () => {
        while (beating) {
          await ask(names.heartbeat("beating"), { nodeId: "beating", actors: [] }).catch(() => {});
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      // Back an hour: a wall-clock timeout would see the silent node's last beat in the future, never time out.
      offset = -3600_000;
      await eventually("the silent node declared dead", () => {
        const state = coordinator.snapshot().nodes.find((n) => n.id === "silent")?.state;
        return Promise.resolve(state === "dead" ? true : undefined);
      }, 10_000);
      // Forward an hour: a wall-clock timeout would see an hour of silence from the beating node.
      offset = 3600_000;
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assertEquals(coordinator.snapshot().nodes.find((n) => n.id === "beating")?.state, "alive");
      beating = false;
      await beats;
    } finally {
      Date.now = realNow;
      await coordinator.stop();
      await transport.close();
      await server.stop();
    }
  },
});
