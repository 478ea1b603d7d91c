/**
 * `coop creds --jwt` on a real nats-server in operator mode: a coordinator, an agent, a client and an admin each
 * connect with their own role's user JWT (the NKey roles' rights), the agent mints its actor hosts' credentials
 * with the account signing key (the account read from its own creds), and each role is refused what it may not do.
 */
import { notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { Cluster } from "../../actors/core/cluster.ts";
import { Counter } from "../../actors/demo_actors.ts";
import { credsCommand } from "../../coordinator/creds.ts";
import { encode } from "../../shared/codec.ts";
import { connectNats, type NatsTransport } from "../../shared/nats_transport.ts";
import { readReply } from "../../shared/protocol.ts";
import { subjects } from "../../shared/subjects.ts";
import { startNats } from "../harness.ts";
import { eventually } from "../runtime/cluster_fixture.ts";
import { CLI, refused, REGISTRY, RoleProcesses } from "./role_processes.ts";

Deno.test({
  name: "jwt roles - per-role user JWTs run a cluster; agent and client are refused control, admin shuts down",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coop-jwt-roles-" });
    const out = `${dir}/creds`;
    strictEqual(await credsCommand(["--jwt", "--out", out, "--cluster", "alpha", "--node", "n1"]), 0);
    const server = await startNats({ extraConfig: await Deno.readTextFile(`${out}/nats-jwt.conf`) });
    const creds = (role: string) => `${out}/${role}.creds`;
    const connect = (role: string) =>
      connectNats({ servers: server.url, credsFile: creds(role), connectTimeoutMs: 5000 });
    const roles = new RoleProcesses();
    const start = roles.start.bind(roles);
    const connections: NatsTransport[] = [];
    try {
      const coordinator = start("coordinator", ["up", "--nats", server.url, "--cluster", "alpha", "--api-port=-1"], {
        COOP_NATS_CREDS: creds("coordinator"),
      });
      // No COOP_NATS_ACCOUNT: the agent reads its account from its own creds.
      start("agent", ["agent", "--nats", server.url, "--cluster", "alpha", "--node-id", "n1", "--registry", REGISTRY], {
        COOP_NATS_CREDS: creds("agent-n1"),
        COOP_NATS_ACCOUNT_SIGNING_SEED_FILE: `${out}/account-signing.nk`,
      });
      const client = await connect("client");
      connections.push(client);
      const cluster = new Cluster(client, { cluster: "alpha" });
      await eventually("the agent", async () => {
        const nodes = await cluster.nodes();
        return nodes.some((n) => n.state === "alive") ? true : undefined;
      }, 30_000).catch((error) => {
        throw new Error(`${error.message}\n${roles.all.map((p) => `${p.name}: ${p.output.join("\n")}`).join("\n")}`);
      });
      const counter = await cluster.spawn(Counter, { name: "c1", resources: { cpu: 1 } }, 0);
      strictEqual(await counter.incr(1), 1, "a client calls an actor whose host has a minted credential");
      const blobs = await cluster.blobs();
      await blobs.put("w", new Uint8Array(300_000).fill(7));
      strictEqual((await blobs.get("w")).data.byteLength, 300_000, "clients read and write blobs");
      const record = (await cluster.actors()).find((a) => a.name === "c1")!;
      const alpha = subjects("alpha");
      const ask = (transport: NatsTransport, subject: string, value: unknown) =>
        transport.request(subject, encode(value), { timeoutMs: 2000 }).then((reply) => readReply(reply, subject));

      const agent = await connect("agent-n1");
      connections.push(agent);
      await refused("agent shutdown", () => ask(agent, alpha.admin, { op: "shutdown" }));
      await refused("agent kill", () => ask(agent, alpha.coordinator, { op: "kill", actor: record.id }));
      await refused("agent calls an actor", () => ask(agent, alpha.call(record.id, 0), ["incr", [1]]));
      await refused("client shutdown", () => ask(client, alpha.admin, { op: "shutdown" }));
      await refused("client agent order", () => ask(client, alpha.agent("n1"), { op: "exit" }));
      await refused("client heartbeat", () => ask(client, alpha.heartbeat("n1"), { nodeId: "n1", actors: [] }));
      strictEqual(await counter.incr(1), 2, "the cluster carries on");

      const admin = await connect("admin");
      connections.push(admin);
      await new Cluster(admin, { cluster: "alpha" }).shutdown();
      await roles.assertCleanShutdown(coordinator);
    } finally {
      for (const connection of connections) await connection.close().catch(() => {});
      await roles.stopAll();
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("jwt roles - coop creds --help prints the usage; an unknown flag is a usage error naming it", async () => {
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), { args: ["run", "-A", CLI, "creds", ...args] }).output();
  const help = await run(["--help"]);
  const text = new TextDecoder().decode(help.stdout);
  strictEqual(help.code, 0, new TextDecoder().decode(help.stderr));
  ok(text.includes("Usage: coop creds --out DIR") && text.includes("--jwt"), text);
  const bad = await run(["--out", "/tmp/x", "--bogus"]);
  notStrictEqual(bad.code, 0, "an unknown flag fails");
  ok(/--bogus/.test(new TextDecoder().decode(bad.stderr)), new TextDecoder().decode(bad.stderr));
});
