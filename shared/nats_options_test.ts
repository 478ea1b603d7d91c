import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import { nkeys } from "@nats-io/transport-node";
import { ConfigError } from "./errors.ts";
import { DEFAULT_NATS_URL, natsOptionsFromEnv, toNatsJsOptions } from "./nats_options.ts";

function throwsConfig(fn: () => unknown, pattern: RegExp): void {
  throws(fn, (error: unknown) => {
    ok(error instanceof ConfigError, String(error));
    ok(pattern.test(error.message), error.message);
    return true;
  });
}

Deno.test("nats options - env defaults to the local server with no auth", () => {
  deepStrictEqual(natsOptionsFromEnv({}), { servers: [DEFAULT_NATS_URL] });
  deepStrictEqual(natsOptionsFromEnv({ COOP_NATS_URL: "nats://a:4222, tls://b:4222" }).servers, [
    "nats://a:4222",
    "tls://b:4222",
  ]);
  deepStrictEqual(natsOptionsFromEnv({ COOP_NATS_URL: "host:4222" }).servers, ["host:4222"]);
});

Deno.test("nats options - env errors name the variable and never echo secrets", () => {
  throwsConfig(() => natsOptionsFromEnv({ COOP_NATS_URL: "http://x:1" }), /COOP_NATS_URL/);
  throwsConfig(() => natsOptionsFromEnv({ COOP_NATS_URL: "nats://" }), /COOP_NATS_URL/);
  throwsConfig(() => natsOptionsFromEnv({ COOP_NATS_USER: "u" }), /COOP_NATS_PASSWORD is required/);
  throwsConfig(() => natsOptionsFromEnv({ COOP_NATS_PASSWORD: "p" }), /COOP_NATS_USER is required/);
  throwsConfig(
    () => natsOptionsFromEnv({ COOP_NATS_USER: "u", COOP_NATS_PASSWORD: "p", COOP_NATS_TOKEN: "t" }),
    /one authentication method, got COOP_NATS_USER\/COOP_NATS_PASSWORD, COOP_NATS_TOKEN/,
  );
  throws(() => natsOptionsFromEnv({ COOP_NATS_NKEY_SEED: "SUsecretbutbogus" }), (error: Error) => {
    ok(error instanceof ConfigError && /COOP_NATS_NKEY_SEED is not a valid NKey seed/.test(error.message));
    ok(!error.message.includes("SUsecretbutbogus"));
    return true;
  });
  throwsConfig(() => natsOptionsFromEnv({ COOP_NATS_CREDS: "/no/such/file.creds" }), /COOP_NATS_CREDS file/);
  throwsConfig(() => natsOptionsFromEnv({ COOP_NATS_NKEY_SEED_FILE: "/no/such" }), /COOP_NATS_NKEY_SEED_FILE/);
  throwsConfig(() => natsOptionsFromEnv({ COOP_NATS_TLS_CA: "/no/such.pem" }), /COOP_NATS_TLS_CA/);
  throwsConfig(() => natsOptionsFromEnv({ COOP_NATS_TLS_CERT: "/etc/hostname" }), /COOP_NATS_TLS_KEY must be set/);
  throwsConfig(() => natsOptionsFromEnv({ COOP_NATS_TLS_CA: "/tmp" }), /COOP_NATS_TLS_CA "\/tmp" is not a file/);
});

Deno.test("nats options - a valid seed, token and user pass through; reconnects are unlimited", async () => {
  const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
  strictEqual(natsOptionsFromEnv({ COOP_NATS_NKEY_SEED: seed }).nkeySeed, seed);
  strictEqual(natsOptionsFromEnv({ COOP_NATS_TOKEN: " tok " }).token, "tok");
  const js = await toNatsJsOptions({ servers: "nats://h:1", user: "u", password: "p", name: "agent-1" });
  strictEqual(js.maxReconnectAttempts, -1);
  strictEqual(js.user, "u");
  strictEqual(js.pass, "p");
  strictEqual(js.name, "agent-1");
  ok((await toNatsJsOptions({ servers: "nats://h:1", nkeySeed: seed })).authenticator);
});

Deno.test("nats options - toNatsJsOptions rejects conflicting or unreadable settings", async () => {
  await rejects(toNatsJsOptions({ servers: [] }), /at least one server/);
  await rejects(toNatsJsOptions({ servers: "nats://h:1", token: "t", user: "u", password: "p" }), ConfigError);
  await rejects(toNatsJsOptions({ servers: "nats://h:1", user: "u" }), /user and password/);
  await rejects(toNatsJsOptions({ servers: "nats://h:1", credsFile: "/no/such.creds" }), /credsFile/);
  await rejects(toNatsJsOptions({ servers: "nats://h:1", credsFile: "/etc/hostname" }), /not a NATS .creds file/);
  await rejects(toNatsJsOptions({ servers: "nats://h:1", tls: { certFile: "/etc/hostname" } }), /together/);
  await rejects(toNatsJsOptions({ servers: "nats://h:1", tls: { caFile: "/no/ca.pem" } }), /tls.caFile/);
});
