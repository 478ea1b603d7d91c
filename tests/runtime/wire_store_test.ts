import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { jetstream } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { startNats } from "../harness.ts";
import { connectNats } from "../../shared/nats_transport.ts";
import { BlobIntegrityError, MessageTooLargeError, NotFoundError } from "../../shared/errors.ts";
import type { ConnectionEvent } from "../../shared/transport.ts";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null) => b === null ? null : new TextDecoder().decode(b);

Deno.test("wire stores - KV buckets round trip values, list keys by prefix, delete", async () => {
  const server = await startNats();
  const t = await connectNats({ servers: server.url });
  try {
    const kv = await t.kv("coop_state");
    strictEqual(await kv.get("actors.a1"), null);
    await kv.put("actors.a1", text("one"));
    await kv.put("actors.a2", text("two"));
    await kv.put("nodes.n1", text("node"));
    await kv.put("actors.a1", text("one-v2"));
    strictEqual(str(await kv.get("actors.a1")), "one-v2");
    deepStrictEqual(await kv.keys("actors."), ["actors.a1", "actors.a2"]);
    deepStrictEqual(await kv.keys("act"), ["actors.a1", "actors.a2"]);
    deepStrictEqual(await kv.keys(), ["actors.a1", "actors.a2", "nodes.n1"]);
    await kv.delete("actors.a1");
    strictEqual(await kv.get("actors.a1"), null);
    deepStrictEqual(await kv.keys("actors."), ["actors.a2"]);
    await rejects(kv.put("big", new Uint8Array(2 * 1024 * 1024)), MessageTooLargeError);
    // Opening the same bucket again (another process, a restarted coordinator) sees the same state.
    strictEqual(str(await (await t.kv("coop_state")).get("nodes.n1")), "node");
  } finally {
    await t.close();
    await server.stop();
  }
});

Deno.test("wire stores - blobs keep version tags and verify their digest", async () => {
  const server = await startNats();
  const t = await connectNats({ servers: server.url });
  try {
    const blobs = await t.blobs("weights");
    const data = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) & 0xff);
    const info = await blobs.put("policy", data, { version: "v7" });
    strictEqual(info.size, data.byteLength);
    strictEqual(info.version, "v7");
    ok(info.digest.startsWith("SHA-256="));
    const got = await blobs.get("policy");
    strictEqual(got.info.version, "v7");
    deepStrictEqual(got.data, data);
    deepStrictEqual(await blobs.info("policy"), info);

    await blobs.put("policy", new Uint8Array([1, 2, 3]), { version: "v8" });
    strictEqual((await blobs.get("policy")).info.version, "v8");
    strictEqual((await blobs.put("untagged", new Uint8Array(0))).version, undefined);
    deepStrictEqual((await blobs.get("untagged")).data, new Uint8Array(0));

    await blobs.delete("policy");
    strictEqual(await blobs.info("policy"), null);
    await rejects(blobs.get("policy"), NotFoundError);
    await blobs.delete("policy"); // deleting twice is fine
  } finally {
    await t.close();
    await server.stop();
  }
});

Deno.test("wire stores - a blob whose content no longer matches its digest raises BlobIntegrityError", async () => {
  const server = await startNats();
  const t = await connectNats({ servers: server.url });
  try {
    const blobs = await t.blobs("tamper");
    await blobs.put("w", new Uint8Array(4096).fill(7), { version: "1" });
    // Rewrite the object's metadata record with a digest of other content (what a corrupted store looks like).
    const js = jetstream(t.raw);
    const subject = "$O.tamper.M.dw==";
    const meta = await js.jetstreamManager().then((jsm) =>
      jsm.streams.getMessage("OBJ_tamper", { last_by_subj: subject })
    );
    ok(meta !== null);
    const record = JSON.parse(new TextDecoder().decode(meta!.data));
    record.digest = "SHA-256=" + btoa(String.fromCharCode(...new Uint8Array(32).fill(1))).replaceAll("+", "-")
      .replaceAll("/", "_");
    const h = headers();
    h.set("Nats-Rollup", "sub");
    await js.publish(subject, JSON.stringify(record), { headers: h });
    await rejects(blobs.get("w"), (error: unknown) => {
      ok(error instanceof BlobIntegrityError, String(error));
      ok(/corrupt.*digests do not match/s.test(error.message), error.message);
      return true;
    });
  } finally {
    await t.close();
    await server.stop();
  }
});

Deno.test("wire stores - the transport reconnects after a nats-server restart and reports it", async () => {
  const server = await startNats();
  const t = await connectNats({ servers: server.url, reconnectTimeWaitMs: 100 });
  const events: ConnectionEvent[] = [];
  const watching = (async () => {
    for await (const event of t.status()) events.push(event);
  })();
  try {
    const kv = await t.kv("survive");
    await kv.put("k", text("before"));
    const sub = t.subscribe("svc.echo");
    (async () => {
      for await (const msg of sub) await msg.respond?.(msg.data);
    })().catch(() => {});
    await t.flush();
    strictEqual(str(await t.request("svc.echo", text("1"), { timeoutMs: 2000 })), "1");

    await server.restart();
    const deadline = Date.now() + 15_000;
    while (!events.some((e) => e.type === "reconnect") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    ok(events.some((e) => e.type === "disconnect"), JSON.stringify(events));
    ok(events.some((e) => e.type === "reconnect"), JSON.stringify(events));
    // Subscriptions are restored and JetStream state survived (same store dir).
    strictEqual(str(await t.request("svc.echo", text("2"), { timeoutMs: 5000 })), "2");
    strictEqual(str(await kv.get("k")), "before");
  } finally {
    await t.close();
    await watching;
    await server.stop();
  }
});
