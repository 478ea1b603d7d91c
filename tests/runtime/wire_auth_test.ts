import { ok, rejects, strictEqual } from "node:assert/strict";
import { nkeys } from "@nats-io/transport-node";
import { startNats } from "../harness.ts";
import { connectNats, NatsConnectError } from "../../shared/nats_transport.ts";
import { type NatsConnectOptions, natsOptionsFromEnv } from "../../shared/nats_options.ts";

async function assertRefused(options: NatsConnectOptions, pattern = /authorization refused/): Promise<void> {
  await rejects(connectNats(options), (error: unknown) => {
    ok(error instanceof NatsConnectError, String(error));
    ok(pattern.test(error.message), error.message);
    return true;
  });
}

async function assertWorks(options: NatsConnectOptions): Promise<void> {
  const t = await connectNats(options);
  try {
    const sub = t.subscribe("ping");
    (async () => {
      for await (const msg of sub) await msg.respond?.(msg.data);
    })().catch(() => {});
    await t.flush();
    strictEqual((await t.request("ping", new Uint8Array([42]), { timeoutMs: 2000 }))[0], 42);
  } finally {
    await t.close();
  }
}

Deno.test("wire auth - user/password: right credentials connect, wrong or missing are refused", async () => {
  const server = await startNats({
    extraConfig: 'authorization { users = [ { user: "coop", password: "s3cret-pass" } ] }',
  });
  try {
    await assertWorks({ servers: server.url, user: "coop", password: "s3cret-pass" });
    await assertWorks(natsOptionsFromEnv({
      COOP_NATS_URL: server.url,
      COOP_NATS_USER: "coop",
      COOP_NATS_PASSWORD: "s3cret-pass",
    }));
    await assertRefused({ servers: server.url, user: "coop", password: "wrong" });
    await assertRefused({ servers: server.url });
    // The password must never leak into the error.
    await rejects(connectNats({ servers: server.url, user: "coop", password: "wrong-secret" }), (error: Error) => {
      ok(!error.message.includes("wrong-secret"));
      return true;
    });
  } finally {
    await server.stop();
  }
});

Deno.test("wire auth - token: right token connects, wrong or missing are refused", async () => {
  const server = await startNats({ extraConfig: 'authorization { token: "tok-123456" }' });
  try {
    await assertWorks({ servers: server.url, token: "tok-123456" });
    await assertWorks(natsOptionsFromEnv({ COOP_NATS_URL: server.url, COOP_NATS_TOKEN: "tok-123456" }));
    await assertRefused({ servers: server.url, token: "nope" });
    await assertRefused({ servers: server.url });
  } finally {
    await server.stop();
  }
});

Deno.test("wire auth - NKey seed, inline or from a file", async () => {
  const user = nkeys.createUser();
  const seed = new TextDecoder().decode(user.getSeed());
  const other = new TextDecoder().decode(nkeys.createUser().getSeed());
  const server = await startNats({ extraConfig: `authorization { users = [ { nkey: "${user.getPublicKey()}" } ] }` });
  const dir = await Deno.makeTempDir({ prefix: "coop-nkey-" });
  try {
    await assertWorks({ servers: server.url, nkeySeed: seed });
    await Deno.writeTextFile(`${dir}/user.nk`, seed + "\n");
    await assertWorks(natsOptionsFromEnv({ COOP_NATS_URL: server.url, COOP_NATS_NKEY_SEED_FILE: `${dir}/user.nk` }));
    await assertRefused({ servers: server.url, nkeySeed: other });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** A CA plus a server cert for 127.0.0.1 and a client cert, all signed by the CA. */
async function makeCerts(dir: string): Promise<void> {
  await openssl(
    dir,
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=coop-test-ca"].concat(
      ["-keyout", "ca.key", "-out", "ca.pem"],
    ),
  );
  for (const who of ["server", "client"]) {
    await openssl(
      dir,
      ["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${who}`, "-keyout", `${who}.key`]
        .concat(["-out", `${who}.csr`]),
    );
    await Deno.writeTextFile(`${dir}/${who}.ext`, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    await openssl(
      dir,
      ["x509", "-req", "-in", `${who}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"]
        .concat(["-days", "1", "-out", `${who}.pem`, "-extfile", `${who}.ext`]),
    );
  }
}

Deno.test("wire auth - TLS with a private CA and a required client certificate", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-tls-" });
  let server: Awaited<ReturnType<typeof startNats>> | undefined;
  try {
    await makeCerts(dir);
    server = await startNats({
      extraConfig:
        `tls { cert_file: "${dir}/server.pem", key_file: "${dir}/server.key", ca_file: "${dir}/ca.pem", verify: true }`,
    });
    await assertWorks(natsOptionsFromEnv({
      COOP_NATS_URL: `tls://127.0.0.1:${server.port}`,
      COOP_NATS_TLS_CA: `${dir}/ca.pem`,
      COOP_NATS_TLS_CERT: `${dir}/client.pem`,
      COOP_NATS_TLS_KEY: `${dir}/client.key`,
    }));
    // Without a client certificate the server refuses the handshake (the client only notices by timing out).
    const url = `tls://127.0.0.1:${server.port}`;
    await assertRefused({ servers: url, tls: { caFile: `${dir}/ca.pem` }, connectTimeoutMs: 1000 }, /Cannot connect/);
    // A client certificate from another CA is refused too, without crashing the process.
    const rogue = `${dir}/rogue`;
    await Deno.mkdir(rogue);
    await makeCerts(rogue);
    await assertRefused({
      servers: url,
      tls: { caFile: `${dir}/ca.pem`, certFile: `${rogue}/client.pem`, keyFile: `${rogue}/client.key` },
      connectTimeoutMs: 1000,
    }, /Cannot connect/);
    // Without the CA the client refuses the server.
    await assertRefused({ servers: url, tls: {} }, /Cannot connect/);
  } finally {
    await server?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

/** A NATS JWT (ed25519-nkey) signed by `signer` — what `nsc` would write, minus the tool. */
function natsJwt(signer: nkeys.KeyPair, claims: Record<string, unknown>): string {
  const encode = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)));
  const head = encode({ typ: "JWT", alg: "ed25519-nkey" });
  const body = encode({
    jti: crypto.randomUUID().replaceAll("-", "").toUpperCase(),
    iat: Math.floor(Date.now() / 1000),
    iss: signer.getPublicKey(),
    ...claims,
  });
  return `${head}.${body}.${base64url(signer.sign(new TextEncoder().encode(`${head}.${body}`)))}`;
}

const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };

function accountJwt(operator: nkeys.KeyPair, account: nkeys.KeyPair, name: string): string {
  return natsJwt(operator, {
    sub: account.getPublicKey(),
    name,
    nats: { type: "account", version: 2, limits: UNLIMITED },
  });
}

function credsFor(account: nkeys.KeyPair): string {
  const user = nkeys.createUser();
  const jwt = natsJwt(account, {
    sub: user.getPublicKey(),
    name: "coop",
    nats: { type: "user", version: 2, pub: {}, sub: {}, subs: -1, data: -1, payload: -1 },
  });
  const seed = new TextDecoder().decode(user.getSeed());
  return `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n` +
    `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;
}

Deno.test("wire auth - .creds file against a server in operator (JWT) mode", async () => {
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const system = nkeys.createAccount();
  const operatorJwt = natsJwt(operator, {
    sub: operator.getPublicKey(),
    name: "coop-op",
    nats: { type: "operator", version: 2 },
  });
  const server = await startNats({
    extraConfig: [
      `operator: ${operatorJwt}`,
      "resolver: MEMORY",
      `system_account: ${system.getPublicKey()}`,
      `resolver_preload: { ${account.getPublicKey()}: ${accountJwt(operator, account, "coop")}, ` +
      `${system.getPublicKey()}: ${accountJwt(operator, system, "SYS")} }`,
    ].join("\n"),
  });
  const dir = await Deno.makeTempDir({ prefix: "coop-creds-" });
  try {
    await Deno.writeTextFile(`${dir}/good.creds`, credsFor(account));
    await assertWorks(natsOptionsFromEnv({ COOP_NATS_URL: server.url, COOP_NATS_CREDS: `${dir}/good.creds` }));
    // A user signed by an account the server does not know is refused.
    await Deno.writeTextFile(`${dir}/stranger.creds`, credsFor(nkeys.createAccount()));
    await assertRefused({ servers: server.url, credsFile: `${dir}/stranger.creds` });
    await assertRefused({ servers: server.url });
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("wire auth - a subscription the server denies ends and reports why", async () => {
  const server = await startNats({
    extraConfig: 'authorization { users = [ { user: "u", password: "p", permissions: { subscribe: "ok.>" } } ] }',
  });
  const errors: Error[] = [];
  const t = await connectNats({ servers: server.url, user: "u", password: "p", onError: (e) => errors.push(e) });
  try {
    const denied = t.subscribe("secret.stuff");
    const seen: unknown[] = [];
    for await (const msg of denied) seen.push(msg);
    strictEqual(seen.length, 0);
    strictEqual(errors.length, 1);
    ok(/permissions? violation/i.test(errors[0]!.message), errors[0]!.message);
  } finally {
    await t.close();
    await server.stop();
  }
});
