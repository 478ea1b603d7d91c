import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { nkeys } from "@nats-io/transport-node";
import { subjects } from "../shared/subjects.ts";
import { rolePermissions, writeCreds } from "./creds.ts";

Deno.test("creds - seeds are private files matching the config's public keys; the config loads in nats-server", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-creds-" });
  try {
    const users = await writeCreds(dir, { clusters: ["alpha"], nodes: ["n1"] });
    deepStrictEqual(users.map((u) => u.role), ["coordinator", "admin", "client", "agent-n1", "host-n1"]);
    const config = await Deno.readTextFile(`${dir}/nats-auth.conf`);
    for (const user of users) {
      const path = `${dir}/alpha/${user.role}.nk`;
      strictEqual((await Deno.stat(path)).mode! & 0o777, 0o600, path);
      const seed = (await Deno.readTextFile(path)).trim();
      strictEqual(nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey(), user.publicKey);
      ok(config.includes(user.publicKey) && !config.includes(seed), `${user.role}: public key only`);
    }
    await Deno.writeTextFile(`${dir}/server.conf`, `listen: 127.0.0.1:-1\ninclude "nats-auth.conf"\n`);
    const check = await new Deno.Command("nats-server", { args: ["-t", "-c", `${dir}/server.conf`] }).output();
    strictEqual(check.code, 0, new TextDecoder().decode(check.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("creds - an agent may publish only under its own node id and never on admin or coordinator subjects", () => {
  const names = subjects("alpha");
  const agent = rolePermissions(names, "agent", "n1");
  deepStrictEqual(agent.publish.allow.sort(), [
    "coop.alpha.hb.n1",
    "coop.alpha.life.*.n1",
    "coop.alpha.logs.*",
    "coop.alpha.node.n1",
  ]);
  deepStrictEqual(agent.subscribe.allow.sort(), ["_INBOX.>", "coop.alpha.agent.n1", "coop.alpha.weights.retire"]);
  const client = rolePermissions(names, "client");
  ok(
    !client.publish.allow.some((s) =>
      s.includes(".admin") || s.includes(".agent.") || s.includes(`$KV.${names.stateBucket}`)
    ),
  );
  ok(!rolePermissions(names, "host", "n1").publish.allow.some((s) => s.includes("STREAM.DELETE")));
  ok(rolePermissions(names, "admin").publish.allow.includes(`$JS.API.STREAM.DELETE.KV_${names.stateBucket}`));
  ok(rolePermissions(names, "coordinator").publish.deny?.includes(names.admin));
});
