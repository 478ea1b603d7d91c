import { ok, rejects, strictEqual } from "node:assert/strict";
import { startNats } from "../harness.ts";
import { isConnectionLost, isTransient, retryTransient } from "../../shared/connection_loss.ts";
import { ConnectionLostError, NotFoundError } from "../../shared/errors.ts";
import { connectNats } from "../../shared/nats_transport.ts";

const TEST = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "connection loss - a request in flight when nats-server restarts fails at once, typed, not at its timeout",
  ...TEST,
  async fn() {
    const server = await startNats();
    const [caller, callee] = [await connectNats({ servers: server.url }), await connectNats({ servers: server.url })];
    try {
      const sub = callee.subscribe("never.answers");
      (async () => {
        for await (const _ of sub) { /* receives the request, never replies */ }
      })();
      await callee.flush();
      // A KV operation in flight goes through the same multiplexer (the JetStream API is request/reply).
      const kv = await caller.kv("loss_test");
      await kv.put("k", new Uint8Array([1]));
      const started = performance.now();
      const call = caller.request("never.answers", new Uint8Array([1]), { timeoutMs: 60_000 });
      const failed = call.then(() => "answered", (error) => error);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await server.restart();
      const error = await failed;
      const ms = performance.now() - started;
      ok(error instanceof ConnectionLostError, `expected ConnectionLostError, got ${error}`);
      ok(isConnectionLost(error) && isTransient(error));
      ok(ms < 10_000, `failed after ${Math.round(ms)} ms, not at the 60 s timeout`);
      // The retried KV read comes through once the restarted server serves JetStream again.
      strictEqual((await kv.get("k"))?.[0], 1);
      // And the connection carries new requests.
      const echo = callee.subscribe("echo");
      (async () => {
        for await (const m of echo) await m.respond?.(m.data);
      })();
      await callee.flush();
      strictEqual((await caller.request("echo", new Uint8Array([7]), { timeoutMs: 5000 }))[0], 7);
    } finally {
      await caller.close();
      await callee.close();
      await server.stop();
    }
  },
});

Deno.test("connection loss - retryTransient retries transient errors only, within its budget", async () => {
  let attempts = 0;
  const value = await retryTransient(() => {
    attempts++;
    if (attempts < 3) return Promise.reject(new ConnectionLostError("dropped"));
    return Promise.resolve(42);
  }, { initialDelayMs: 1 });
  strictEqual(value, 42);
  strictEqual(attempts, 3);
  attempts = 0;
  await rejects(
    retryTransient(() => {
      attempts++;
      return Promise.reject(new NotFoundError("gone"));
    }, { initialDelayMs: 1 }),
    NotFoundError,
  );
  strictEqual(attempts, 1, "a permanent error is not retried");
  const timeout = Object.assign(new Error("timeout"), { name: "TimeoutError" });
  await rejects(retryTransient(() => Promise.reject(timeout), { budgetMs: 30, initialDelayMs: 5 }), /timeout/);
});
