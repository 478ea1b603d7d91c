/**
 * Per-role NATS credentials from `coop creds` on a real nats-server: a coordinator, two agents and their actor
 * hosts each connect with their own NKey. With an agent's credentials, shutting the cluster down, deleting a
 * stream, ordering another node, speaking for another node and subscribing to every actor's calls are all refused
 * by the server, and the cluster carries on; clients of one cluster cannot reach another's subjects.
 */
import { ok, strictEqual } from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import { Cluster } from "../../actors/core/cluster.ts";
import { Counter } from "../../actors/demo_actors.ts";
import { writeCreds } from "../../coordinator/creds.ts";
import { encode } from "../../shared/codec.ts";
import { connectNats, type NatsTransport } from "../../shared/nats_transport.ts";
import { readReply } from "../../shared/protocol.ts";
import { subjects } from "../../shared/subjects.ts";
import { startNats } from "../harness.ts";
import { eventually } from "../runtime/cluster_fixture.ts";
import { refused, REGISTRY, RoleProcesses } from "./role_processes.ts";

Deno.test({
  name: "roles - agent credentials cannot shut down, delete streams, order or impersonate other nodes, or snoop calls",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "coop-roles-" });
    await writeCreds(`${dir}/creds`, { clusters: ["alpha", "beta"], nodes: ["n1", "n2"] });
    const server = await startNats({ extraConfig: await Deno.readTextFile(`${dir}/creds/nats-auth.conf`) });
    const seed = (cluster: string, role: string) => `${dir}/creds/${cluster}/${role}.nk`;
    const connect = (cluster: string, role: string) =>
      connectNats({ servers: server.url, nkeySeedFile: seed(cluster, role), connectTimeoutMs: 5000 });
    const roles = new RoleProcesses();
    const start = roles.start.bind(roles);
    const connections: NatsTransport[] = [];
    try {
      const coordinator = start("coordinator", ["up", "--nats", server.url, "--cluster", "alpha", "--api-port=-1"], {
        COOP_NATS_NKEY_SEED_FILE: seed("alpha", "coordinator"),
      });
      for (const node of ["n1", "n2"]) {
        start(`agent ${node}`, [
          "agent",
          "--nats",
          server.url,
          "--cluster",
          "alpha",
          "--node-id",
          node,
          "--cpus",
          "2",
          "--registry",
          REGISTRY,
        ], {
          COOP_NATS_NKEY_SEED_FILE: seed("alpha", `agent-${node}`),
          COOP_HOST_NATS_NKEY_SEED_FILE: seed("alpha", `host-${node}`),
        });
      }
      const clientTransport = await connect("alpha", "client");
      const cluster = new Cluster(clientTransport, { cluster: "alpha", ownsTransport: true });
      await eventually("both agents", async () => {
        const nodes = await cluster.nodes();
        return nodes.filter((n) => n.state === "alive").length === 2 ? true : undefined;
      }, 30_000).catch((error) => {
        throw new Error(`${error.message}\n${roles.all.map((p) => `${p.name}: ${p.output.join("\n")}`).join("\n")}`);
      });
      const counter = await cluster.spawn(Counter, { name: "c1", resources: { cpu: 1 } }, 0);
      strictEqual(await counter.incr(1), 1, "client and host credentials carry actor calls");
      const blobs = await cluster.blobs();
      await blobs.put("w", new Uint8Array(300_000).fill(7), { version: "1" });
      strictEqual((await blobs.get("w")).data.byteLength, 300_000, "clients read and write blobs");
      const record = (await cluster.actors()).find((a) => a.name === "c1")!;
      const other = record.nodeId === "n1" ? "n2" : "n1";
      const alpha = subjects("alpha");

      await t.step("with agent credentials every attack is refused by the server", async () => {
        const agent = await connect("alpha", `agent-${record.nodeId}`);
        connections.push(agent);
        const ask = (subject: string, value: unknown) =>
          agent.request(subject, encode(value), { timeoutMs: 2000 }).then((reply) => readReply(reply, subject));
        await refused("shutdown", () => ask(alpha.admin, { op: "shutdown" }));
        await refused("spawn/kill through coord", () => ask(alpha.coordinator, { op: "kill", actor: record.id }));
        await refused(
          "ordering another node",
          () => ask(alpha.agent(other), { op: "stop", actor: record.id, incarnation: 0, graceful: false }),
        );
        await refused("a heartbeat for another node", () => ask(alpha.heartbeat(other), { nodeId: other, actors: [] }));
        await refused("deregistering another node", () => ask(alpha.node(other), { op: "deregister", nodeId: other }));
        await refused("calling an actor", () => ask(alpha.call(record.id, 0), ["incr", [1]]));
        await refused("deleting the state stream", async () => {
          const jsm = await jetstreamManager(agent.raw, { timeout: 2000 });
          await jsm.streams.delete(`KV_${alpha.stateBucket}`);
        });
        // Subscribing to every actor's calls: the server refuses the subscription, so no call reaches it.
        const snoop = agent.subscribe(`coop.alpha.actor.>`);
        let snooped = 0;
        const reading = (async () => {
          for await (const _ of snoop) snooped++;
        })().catch(() => {});
        await agent.flush().catch(() => {});
        strictEqual(await counter.incr(1), 2);
        await new Promise((resolve) => setTimeout(resolve, 300));
        strictEqual(snooped, 0, "the agent saw no actor call");
        snoop.unsubscribe();
        await reading;
      });

      await t.step("clients cannot use control subjects; one cluster's client cannot reach another's", async () => {
        const client = await connect("alpha", "client");
        const beta = await connect("beta", "client");
        connections.push(client, beta);
        const ask = (transport: NatsTransport, subject: string, value: unknown) =>
          transport.request(subject, encode(value), { timeoutMs: 2000 }).then((reply) => readReply(reply, subject));
        await refused("client shutdown", () => ask(client, alpha.admin, { op: "shutdown" }));
        await refused("client heartbeat", () => ask(client, alpha.heartbeat("n1"), { nodeId: "n1", actors: [] }));
        await refused("client agent order", () => ask(client, alpha.agent("n1"), { op: "exit" }));
        await refused("beta client to alpha", () => ask(beta, alpha.coordinator, { op: "nodes" }));
        await refused("beta client calls an alpha actor", () => ask(beta, alpha.call(record.id, 0), ["incr", [1]]));
        ok(Array.isArray(await ask(client, alpha.coordinator, { op: "nodes" })), "the client's own requests work");
      });

      await t.step("the cluster is intact; admin credentials can shut it down", async () => {
        strictEqual(await counter.incr(1), 3);
        const nodes = await cluster.nodes();
        strictEqual(nodes.filter((n) => n.state === "alive").length, 2);
        const admin = await connect("alpha", "admin");
        connections.push(admin);
        const jsm = await jetstreamManager(admin.raw);
        strictEqual((await jsm.streams.info(`KV_${alpha.stateBucket}`)).config.name, `KV_${alpha.stateBucket}`);
        const adminCluster = new Cluster(admin, { cluster: "alpha" });
        await adminCluster.shutdown();
        await roles.assertCleanShutdown(coordinator);
      });
      await cluster.close();
    } finally {
      for (const connection of connections) await connection.close().catch(() => {});
      await roles.stopAll();
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
