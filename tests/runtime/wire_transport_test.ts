import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { headers } from "@nats-io/transport-node";
import { startNats } from "../harness.ts";
import { connectNats, type NatsTransport } from "../../shared/nats_transport.ts";
import { CallTimeoutError, MessageTooLargeError, NoRespondersError } from "../../shared/errors.ts";
import { decode, encode } from "../../shared/codec.ts";
import { Tensor, tensor } from "../../shared/tensor.ts";
import type { NatsConnectOptions } from "../../shared/nats_options.ts";

const MiB = 1024 * 1024;

/** Headers of a forged chunked transfer's "start" message announcing `count` chunks of `size` bytes in total. */
function announceChunks(size: number, count: number) {
  const start = headers();
  start.set("Coop-Chunk", "start");
  start.set("Coop-Size", String(size));
  start.set("Coop-Count", String(count));
  start.set("Coop-Acks", "acks.ignored");
  return start;
}

/** Runs `body` with a fresh server and transports; always cleans up. */
async function withNats(
  count: number,
  body: (transports: NatsTransport[], url: string) => Promise<void>,
  options: Partial<NatsConnectOptions> & { maxPayload?: number } = {},
): Promise<void> {
  const server = await startNats({ maxPayload: options.maxPayload ?? MiB });
  const transports: NatsTransport[] = [];
  try {
    for (let i = 0; i < count; i++) transports.push(await connectNats({ servers: server.url, ...options }));
    await body(transports, server.url);
  } finally {
    for (const t of transports) await t.close().catch(() => {});
    await server.stop();
  }
}

/** Fills `bytes` with a pattern that differs per position, so misplaced chunks are caught. */
function pattern(bytes: Uint8Array, seed: number): Uint8Array {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = Math.imul(i + seed, 2654435761);
  return bytes;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)).toHex();
}

function serve(t: NatsTransport, subject: string, handler: (data: Uint8Array) => Uint8Array | Promise<Uint8Array>) {
  const sub = t.subscribe(subject);
  (async () => {
    for await (const msg of sub) await msg.respond?.(await handler(msg.data));
  })().catch((e) => console.error("SERVE", subject, e));
  return sub;
}

Deno.test("wire transport - publish/subscribe and request/reply pass small messages through", async () => {
  await withNats(2, async ([a, b]) => {
    const sub = b!.subscribe("greet");
    await b!.flush();
    await a!.publish("greet", new TextEncoder().encode("hello"));
    const first = await sub[Symbol.asyncIterator]().next();
    strictEqual(new TextDecoder().decode(first.value!.data), "hello");
    strictEqual(first.value!.respond, undefined);
    sub.unsubscribe();

    // Hot-path subscriptions deliver through a callback, including chunked messages.
    const viaCallback = b!.subscribe("cb", { onMessage: (msg) => msg.respond?.(msg.data) });
    await b!.flush();
    strictEqual((await a!.request("cb", new Uint8Array([7]), { timeoutMs: 2000 }))[0], 7);
    strictEqual((await a!.request("cb", new Uint8Array(3 * MiB), { timeoutMs: 10_000 })).byteLength, 3 * MiB);
    viaCallback.unsubscribe();
    strictEqual((await viaCallback[Symbol.asyncIterator]().next()).done, true);

    serve(b!, "echo", (data) => data);
    await b!.flush();
    const reply = await a!.request("echo", encode({ x: tensor("float32", [2], [1, 2]) }), { timeoutMs: 2000 });
    const value = decode(reply) as { x: Tensor<"float32"> };
    deepStrictEqual([...value.x.data], [1, 2]);
    ok(a!.raw.info !== undefined);
    strictEqual(a!.maxPayload, MiB);
  });
});

Deno.test("wire transport - timeouts and missing responders raise typed errors", async () => {
  await withNats(2, async ([a, b]) => {
    await rejects(a!.request("nobody.home", new Uint8Array(1), { timeoutMs: 1000 }), NoRespondersError);
    await rejects(a!.request("nobody.home", new Uint8Array(2 * MiB), { timeoutMs: 1000 }), NoRespondersError);
    const silent = b!.subscribe("silent");
    await b!.flush();
    await rejects(a!.request("silent", new Uint8Array(1), { timeoutMs: 200 }), CallTimeoutError);
    silent.unsubscribe();
  });
});

Deno.test("wire transport - 256 MiB request through max_payload 1 MiB arrives intact", async () => {
  await withNats(2, async ([a, b]) => {
    serve(b!, "digest", async (data) => encode({ size: data.byteLength, sha: await sha256(data) }));
    await b!.flush();
    const payload = pattern(new Uint8Array(256 * MiB), 1);
    const expected = await sha256(payload);
    const reply = decode(await a!.request("digest", payload, { timeoutMs: 120_000 })) as { size: number; sha: string };
    strictEqual(reply.size, 256 * MiB);
    strictEqual(reply.sha, expected);
  });
});

Deno.test("wire transport - large replies and large tensors in both directions are chunked", async () => {
  await withNats(2, async ([a, b]) => {
    serve(b!, "double", (data) => {
      const { t } = decode(data) as { t: Tensor<"float32"> };
      const out = tensor("float32", t.shape);
      for (let i = 0; i < t.data.length; i++) out.data[i] = t.data[i]! * 2;
      return encode({ t: out });
    });
    serve(b!, "grow", (data) => pattern(new Uint8Array(Number(new TextDecoder().decode(data))), 7));
    await b!.flush();

    const big = tensor("float32", [3, 1024, 1024]); // 12 MiB
    for (let i = 0; i < big.data.length; i++) big.data[i] = i % 1000;
    const reply = decode(await a!.request("double", encode({ t: big }), { timeoutMs: 30_000 })) as {
      t: Tensor<"float32">;
    };
    deepStrictEqual([...reply.t.shape], [3, 1024, 1024]);
    for (let i = 0; i < big.data.length; i += 997) strictEqual(reply.t.data[i], (i % 1000) * 2);
    // The reassembled buffer starts at offset 0, so the tensor decodes as a view (no copy).
    strictEqual(reply.t.data.byteOffset % 8, 0);

    const size = 5 * MiB + 3;
    const grown = await a!.request("grow", new TextEncoder().encode(String(size)), { timeoutMs: 30_000 });
    strictEqual(grown.byteLength, size);
    strictEqual(await sha256(grown), await sha256(pattern(new Uint8Array(size), 7)));
  });
});

Deno.test("wire transport - a large publish reaches exactly one member of a queue group", async () => {
  await withNats(3, async ([a, b, c]) => {
    const got: number[] = [];
    for (const [i, t] of [b!, c!].entries()) {
      const sub = t.subscribe("work", { queue: "workers" });
      (async () => {
        for await (const msg of sub) got.push(i, msg.data.byteLength);
      })();
      await t.flush();
    }
    for (let n = 0; n < 4; n++) await a!.publish("work", new Uint8Array(3 * MiB));
    const deadline = Date.now() + 5000;
    while (got.length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    strictEqual(got.length, 8);
    for (let i = 1; i < got.length; i += 2) strictEqual(got[i], 3 * MiB);
  });
});

Deno.test("wire transport - oversized messages are refused by the sender and by the receiver", async () => {
  await withNats(1, async ([small]) => {
    await rejects(small!.publish("x", new Uint8Array(3 * MiB)), MessageTooLargeError);
    await rejects(small!.request("x", new Uint8Array(3 * MiB), { timeoutMs: 1000 }), MessageTooLargeError);
  }, { maxMessageBytes: 2 * MiB });

  const errors: Error[] = [];
  await withNats(1, async ([sender], url) => {
    const receiver = await connectNats({ servers: url, maxMessageBytes: 2 * MiB, onError: (e) => errors.push(e) });
    try {
      serve(receiver, "limited", (d) => d);
      await receiver.flush();
      await rejects(sender!.request("limited", new Uint8Array(3 * MiB), { timeoutMs: 5000 }), MessageTooLargeError);
      await rejects(sender!.publish("limited", new Uint8Array(3 * MiB)), MessageTooLargeError);
      // The receiver keeps serving normal traffic.
      strictEqual((await sender!.request("limited", new Uint8Array(5), { timeoutMs: 2000 })).byteLength, 5);
    } finally {
      await receiver.close();
    }
  });
  ok(errors.every((e) => e instanceof MessageTooLargeError));
});

Deno.test("wire transport - a half-received message is dropped after the idle timeout", async () => {
  const errors: Error[] = [];
  await withNats(1, async ([sender], url) => {
    const receiver = await connectNats({ servers: url, chunkIdleMs: 200, onError: (e) => errors.push(e) });
    try {
      const sub = serve(receiver, "stall", (d) => d);
      await receiver.flush();
      // Forge a sender that announces 4 chunks and sends one, then disappears.
      const start = announceChunks(4 * MiB, 4);
      const ready = await sender!.raw.request("stall", new Uint8Array(0), { headers: start, timeout: 2000 });
      sender!.raw.publish(ready.headers!.get("Coop-Inbox"), new Uint8Array(MiB));
      const deadline = Date.now() + 5000;
      while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      strictEqual(errors.length, 1);
      ok(errors[0] instanceof CallTimeoutError, String(errors[0]));
      ok(/1 of 4 chunks/.test(errors[0]!.message), errors[0]!.message);
      strictEqual((await sender!.request("stall", new Uint8Array(2 * MiB), { timeoutMs: 5000 })).byteLength, 2 * MiB);
      sub.unsubscribe();
    } finally {
      await receiver.close();
    }
  });
});

Deno.test("wire transport - messages being reassembled are capped in total bytes", async () => {
  await withNats(1, async ([sender], url) => {
    const receiver = await connectNats({ servers: url, maxReassemblyBytes: 5 * MiB, onError: () => {} });
    try {
      serve(receiver, "busy", (d) => d);
      await receiver.flush();
      // A transfer that announced 4 MiB and stalls keeps its reservation until the idle timeout (30 s here).
      const start = announceChunks(4 * MiB, 4);
      await sender!.raw.request("busy", new Uint8Array(0), { headers: start, timeout: 2000 });
      await rejects(sender!.request("busy", new Uint8Array(2 * MiB), { timeoutMs: 5000 }), /receiver busy/);
      strictEqual((await sender!.request("busy", new Uint8Array(MiB), { timeoutMs: 5000 })).byteLength, MiB);
    } finally {
      await receiver.close();
    }
  });
});

Deno.test("wire transport - forged chunk headers are rejected without disturbing the subscriber", async () => {
  const errors: Error[] = [];
  await withNats(1, async ([sender], url) => {
    const receiver = await connectNats({ servers: url, onError: (e) => errors.push(e) });
    try {
      serve(receiver, "forged", (d) => d);
      await receiver.flush();
      const cases: Record<string, string>[] = [
        { "Coop-Size": "-5", "Coop-Count": "1" },
        { "Coop-Size": "abc", "Coop-Count": "1" },
        { "Coop-Size": "10", "Coop-Count": "0" },
        { "Coop-Size": "10", "Coop-Count": "11" },
        { "Coop-Size": "1e300", "Coop-Count": "1" },
        { "Coop-Size": String(2 ** 40), "Coop-Count": "1024" },
        { "Coop-Size": "10", "Coop-Count": "1", "Coop-Acks": "" },
      ];
      for (const fields of cases) {
        const h = headers();
        h.set("Coop-Chunk", "start");
        h.set("Coop-Acks", "acks.ignored");
        for (const [key, value] of Object.entries(fields)) h.set(key, value);
        const answer = await sender!.raw.request("forged", new Uint8Array(0), { headers: h, timeout: 2000 });
        strictEqual(answer.headers?.get("Coop-Chunk"), "reject", JSON.stringify(fields));
      }
      // Header-bearing messages that are not chunk starts are ignored.
      const other = headers();
      other.set("Coop-Chunk", "bogus");
      sender!.raw.publish("forged", new Uint8Array(3), { headers: other });
      strictEqual((await sender!.request("forged", new Uint8Array(9), { timeoutMs: 2000 })).byteLength, 9);
    } finally {
      await receiver.close();
    }
  });
  strictEqual(errors.length, 7);
  ok(errors.every((e) => e.name === "DecodeError" || e.name === "MessageTooLargeError"), errors.join("; "));
});
