/**
 * Actor hosts run with the least Deno permissions they need (actors/host_permissions.ts), not `-A`: an actor that
 * reads outside the code, roots and segment dir, writes outside the run roots, opens a socket to a host that is
 * not listed, reads an unlisted environment variable or starts a process gets a permission error, and its host
 * keeps serving.
 */
import { strictEqual } from "node:assert/strict";
import { startLocalCluster } from "../../coordinator/local/mod.ts";
import { startNats } from "../harness.ts";
import { CLUSTER_TEST, rootsIn } from "./cluster_fixture.ts";
import { Prober } from "./fixtures/sandbox_actors.ts";

const REGISTRY = new URL("./fixtures/sandbox_actors.ts", import.meta.url).pathname;
const DENIED = "NotCapable";

Deno.test({
  name: "host sandbox - an actor cannot read /etc/shadow, dial an unlisted host or spawn; its host survives",
  ...CLUSTER_TEST,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coop-sandbox-" });
    const outside = await Deno.makeTempDir({ prefix: "coop-outside-" });
    await Deno.mkdir(`${dir}/runs`);
    const server = await startNats();
    const local = await startLocalCluster({
      natsUrl: server.url,
      env: rootsIn(dir),
      agents: [{ nodeId: "s1", cpus: 2 }],
      registry: [REGISTRY],
    });
    try {
      const prober = await local.client.spawn(Prober, { name: "prober" });
      const pid = await prober.pid();
      strictEqual(await prober.read("/etc/shadow"), DENIED);
      strictEqual(await prober.read("/etc/passwd"), DENIED);
      strictEqual(await prober.write(`${outside}/x`), DENIED);
      strictEqual(await prober.connect("192.0.2.1", 9), DENIED, "a TEST-NET address is not listed");
      strictEqual(await prober.env("HOME"), DENIED);
      strictEqual(await prober.run(), DENIED);
      // What it needs still works: its code, its run roots, NATS (it answers).
      strictEqual(await prober.read(REGISTRY), "ok");
      strictEqual(await prober.write(`${dir}/runs/x`), "ok");
      strictEqual(await prober.pid(), pid, "the same host process still serves");
    } finally {
      await local.stop();
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(outside, { recursive: true }).catch(() => {});
    }
  },
});
