/**
 * Least privilege of actor hosts under per-actor JWTs, in a real cluster on a real nats-server (operator mode): an
 * actor cannot spawn or kill, call actors it was not given, read another actor's replies, or write blobs unless it
 * was spawned to (learners); it can still look actors up, call the ones it was given, read blobs and serve large
 * calls through the chunked protocol on its own inbox prefix.
 */
import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "node:assert/strict";
import { actorInboxPrefix, actorRights } from "../../actors/actor_creds.ts";
import { subjects } from "../../shared/subjects.ts";
import { Prober } from "./fixtures/sandbox_actors.ts";
import { withJwtCluster } from "./fixtures/jwt_cluster.ts";

const SANDBOX_REGISTRY = new URL("./fixtures/sandbox_actors.ts", import.meta.url).pathname;
const names = subjects("default");

Deno.test("actor rights - read-only blobs, own inbox, lookups, and calls only to granted actors", () => {
  const plain = actorRights(names, "a1", "n1");
  ok(plain.pub.includes(names.lookup) && !plain.pub.includes(names.coordinator), "lookups, no spawn/kill");
  ok(!plain.pub.some((s) => s.startsWith("coop.default.actor.")), "no calls without grants");
  ok(!plain.pub.some((s) => s.startsWith("$O.") || s.startsWith("$KV.")), "no blob or record writes");
  ok(!plain.pub.some((s) => /STREAM\.(PURGE|DELETE|UPDATE|CREATE|MSG\.DELETE)/.test(s)), "no stream changes");
  deepStrictEqual(plain.sub.filter((s) => s.startsWith("_INBOX")), [`${actorInboxPrefix(names, "a1")}.>`]);
  const granted = actorRights(names, "a1", "n1", { calls: ["a2", "a2"], blobWrite: true });
  deepStrictEqual(granted.pub.filter((s) => s.startsWith("coop.default.actor.")), ["coop.default.actor.a2.*"]);
  ok(granted.pub.includes(`$O.${names.blobBucket}.>`), "a learner writes blobs");
  let threw = false;
  try {
    actorRights(names, "a1", "n1", { calls: ["a2.>"] });
  } catch {
    threw = true;
  }
  ok(threw, "a wildcard in a granted id is refused");
});

Deno.test({
  name: "actor rights - a host's credential is refused spawn/kill, other actors, other inboxes and blob writes",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withJwtCluster(
      { prefix: "coop-rights-", agents: [{ nodeId: "r1", cpus: 8 }], registry: [SANDBOX_REGISTRY] },
      async (local) => {
        const { client } = local;
        const blobs = await client.blobs();
        await blobs.put("seed", new Uint8Array(3000).fill(7));
        const cpu = { resources: { cpu: 0.5 } };
        const [target, plain, writer] = await Promise.all([
          client.spawn(Prober, { name: "target", ...cpu }),
          client.spawn(Prober, { name: "plain", ...cpu }),
          client.spawn(Prober, { name: "writer", blobWrite: true, ...cpu }),
        ]);
        const caller = await client.spawn(Prober, { name: "caller", calls: [target.actorId], ...cpu });

        // Control: no spawn, no kill (the target lives on).
        notStrictEqual(await plain.spawn(), "ok", "spawn refused");
        notStrictEqual(await plain.kill(target.actorId), "ok", "kill refused");
        strictEqual(await client.actors().then((all) => all.length), 4, "nothing was spawned");
        strictEqual(typeof await target.pid(), "number", "the target still serves");

        // Calls: only to the actors it was given; lookups work for everyone.
        strictEqual(await caller.call(target.actorId), "ok", "a granted call");
        strictEqual(await caller.call("target"), "ok", "looked up by name");
        notStrictEqual(await caller.call("plain"), "ok", "an actor it was not given");
        notStrictEqual(await plain.call("target"), "ok", "no grants, no calls");

        // Inboxes: its own prefix only.
        ok(await plain.canSubscribe(`${actorInboxPrefix(names, plain.actorId)}.probe`), "its own inbox");
        strictEqual(await plain.canSubscribe(`${actorInboxPrefix(names, caller.actorId)}.>`), false, "another's");
        strictEqual(await plain.canSubscribe("_INBOX.>"), false, "the clients' inboxes");

        // Blobs: read, never write or delete, unless granted.
        strictEqual(await plain.readBlob("seed"), "ok");
        notStrictEqual(await plain.writeBlob("forged"), "ok", "write refused");
        notStrictEqual(await plain.deleteBlob("seed"), "ok", "delete refused");
        strictEqual(await blobs.info("forged"), null, "nothing written");
        deepStrictEqual((await blobs.get("seed")).data, new Uint8Array(3000).fill(7), "the blob is intact");
        strictEqual(await writer.writeBlob("learner-output"), "ok", "a blobWrite actor writes");
        strictEqual((await blobs.info("learner-output"))?.size, 1000);

        // Large calls and replies (several max_payloads) still flow through the private inboxes.
        const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
        deepStrictEqual(await plain.echo(big), big);
        strictEqual(typeof await plain.pid(), "number", "the refusals did not cost it its connection");
      },
    );
  },
});
