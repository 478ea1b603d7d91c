/**
 * Per-actor NATS credentials against a real nats-server in operator mode: an actor host's minted user JWT lets it
 * serve its own calls and report for itself, and nothing a node or another actor owns.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { actorRights, mintActorCreds } from "../../actors/actor_creds.ts";
import { accountUserCreds, generateJwtSetup } from "../../coordinator/creds_jwt.ts";
import { NoRespondersError } from "../../shared/errors.ts";
import { connectNats, type NatsTransport } from "../../shared/nats_transport.ts";
import { subjects } from "../../shared/subjects.ts";
import { Prober } from "./fixtures/sandbox_actors.ts";
import { startNats } from "../harness.ts";
import { withJwtCluster } from "./fixtures/jwt_cluster.ts";

const SANDBOX_REGISTRY = new URL("./fixtures/sandbox_actors.ts", import.meta.url).pathname;

const TEST = { sanitizeOps: false, sanitizeResources: false };
const names = subjects("chaos");

async function connectWith(url: string, dir: string, name: string, creds: Uint8Array, errors: string[] = []) {
  await Deno.writeFile(`${dir}/${name}.creds`, creds, { mode: 0o600 });
  return await connectNats({
    servers: url,
    credsFile: `${dir}/${name}.creds`,
    onError: (error) => errors.push(error.message),
  });
}

Deno.test({
  name: "actor creds - a host's user JWT serves its own actor only: other actors' calls and control subjects refused",
  ...TEST,
  async fn() {
    const setup = await generateJwtSetup();
    const dir = await Deno.makeTempDir({ prefix: "coop-jwt-" });
    const server = await startNats({ extraConfig: setup.serverConfig });
    const opened: NatsTransport[] = [];
    try {
      const owner = await connectWith(server.url, dir, "owner", await accountUserCreds(setup, "owner"));
      opened.push(owner);
      const signer = { account: setup.account.publicKey, signingSeed: setup.account.signingSeed };
      const minted = await mintActorCreds({ names, actorId: "a1", nodeId: "n1", signer });
      const errors: string[] = [];
      const actor = await connectWith(server.url, dir, "a1", minted, errors);
      opened.push(actor);

      // Its own calls: served.
      const serve = (subject: string) => {
        const sub = actor.subscribe(subject);
        (async () => {
          for await (const m of sub) await m.respond?.(Uint8Array.of(1));
        })();
      };
      serve(names.call("a1", 0));
      // Another actor's calls: the subscription is refused, so a call finds no responder.
      serve(names.call("a2", 0));
      await actor.flush();
      strictEqual((await owner.request(names.call("a1", 0), Uint8Array.of(0), { timeoutMs: 5000 }))[0], 1);
      await rejects(owner.request(names.call("a2", 0), Uint8Array.of(0), { timeoutMs: 5000 }), NoRespondersError);

      // Control subjects: nothing it publishes there arrives; its own report does.
      const seen: string[] = [];
      const all = owner.subscribe("coop.chaos.>");
      (async () => {
        for await (const m of all) seen.push(m.subject);
      })();
      await owner.flush();
      const forbidden = [
        names.heartbeat("n1"),
        names.node("n1"),
        names.agent("n1"),
        names.admin,
        names.report("a2", "n1"),
        names.logs("a1"),
      ];
      for (const subject of [...forbidden, names.report("a1", "n1")]) await actor.publish(subject, Uint8Array.of(2));
      await actor.flush();
      await new Promise((resolve) => setTimeout(resolve, 300));
      deepStrictEqual(seen, [names.report("a1", "n1")]);
      ok(errors.some((e) => /permissions violation/i.test(e)), `the server refused: ${errors.join("; ")}`);
      // The refusals did not cost it its connection.
      strictEqual((await owner.request(names.call("a1", 0), Uint8Array.of(0), { timeoutMs: 5000 }))[0], 1);
    } finally {
      for (const t of opened) await t.close().catch(() => {});
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("actor creds - the rights name one actor and one node, and refuse bad ids", () => {
  const rights = actorRights(names, "a1", "n1");
  ok(rights.sub.includes("coop.chaos.actor.a1.*"));
  ok(!rights.sub.some((s) => s === "coop.chaos.actor.>" || s === "coop.chaos.>"));
  ok(rights.pub.includes(names.report("a1", "n1")) && !rights.pub.includes(names.heartbeat("n1")));
  let threw = false;
  try {
    actorRights(names, "a1.>", "n1");
  } catch {
    threw = true;
  }
  ok(threw, "a wildcard in the actor id is refused");
});

Deno.test({
  name: "actor creds - an agent with the account signing key gives each actor host its own minted credential",
  ...TEST,
  async fn() {
    await withJwtCluster({
      prefix: "coop-jwt-cluster-",
      agents: [{ nodeId: "j1", cpus: 2 }],
      registry: [SANDBOX_REGISTRY],
    }, async (local, dir) => {
      const prober = await local.client.spawn(Prober, { name: "jwt-prober" });
      const own = subjects("default");
      ok(await prober.canSubscribe(own.call(prober.actorId, 7)), "its own call subject (any incarnation)");
      strictEqual(await prober.canSubscribe(own.call("someone-else", 0)), false, "another actor's calls");
      strictEqual(await prober.canSubscribe(own.agent("j1")), false, "its agent's orders");
      strictEqual(await prober.canSubscribe(own.heartbeatAll), false, "heartbeats");
      // Its credential is its own file, not the agent's (which it cannot read either).
      strictEqual(await prober.read(`${dir}/owner.creds`), "NotCapable");
      strictEqual(await prober.read(`${dir}/signing.nk`), "NotCapable");
      strictEqual(await prober.pid(), await prober.pid(), "the host still serves");
    });
  },
});
