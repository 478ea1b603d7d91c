import { ok, strictEqual, throws } from "node:assert";
import type { Cluster } from "../actors/core/cluster.ts";
import { ConfigError } from "../shared/errors.ts";
import { createApp } from "./api.ts";
import { apiBindHost } from "./http/mod.ts";
import { RunManager } from "./run/manager.ts";
import { runsRouter } from "./run/router.ts";
import { EMPTY_API_DEPS } from "./api_test_deps.ts";

const deps = EMPTY_API_DEPS;

function app(manager: RunManager) {
  return createApp(deps, { routers: { "/v1/runs": runsRouter(manager) }, maxBodyBytes: 4096 });
}

Deno.test("api guard - a token-less text/plain or form POST is refused (CSRF), so is one without a type", async () => {
  const manager = new RunManager(null as unknown as Cluster);
  const body = JSON.stringify({ config: { kind: "rl", steps: 1 } });
  for (const type of ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", undefined]) {
    const headers: Record<string, string> = type === undefined ? {} : { "content-type": type };
    const response = await app(manager).request("/v1/runs", {
      method: "POST",
      headers,
      body: type === undefined ? new TextEncoder().encode(body) : body,
    });
    strictEqual(response.status, 415, `${type}: ${response.status}`);
    ok((await response.json()).error.message.includes("application/json"));
  }
  strictEqual(manager.list().length, 0, "no run was started");
});

Deno.test("api guard - bodies over the limit get 413, whatever Content-Length says", async () => {
  const manager = new RunManager(null as unknown as Cluster);
  const big = JSON.stringify({ config: { name: "x".repeat(10_000) } });
  const response = await app(manager).request("/v1/runs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: big,
  });
  strictEqual(response.status, 413);
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(big));
      controller.close();
    },
  });
  const chunked = await app(manager).request("/v1/runs", {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": "10" },
    body: stream,
  });
  ok(chunked.status === 413 || chunked.status === 400, `streamed body: ${chunked.status}`);
  strictEqual(manager.list().length, 0);
});

Deno.test("api guard - JSON requests and GETs pass", async () => {
  const manager = new RunManager(null as unknown as Cluster);
  const response = await app(manager).request("/v1/runs", {
    method: "POST",
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify({ config: { mode: "nope" } }),
  });
  strictEqual(response.status, 400, "reaches the route, which names the bad field");
  ok((await response.json()).error.message.includes("mode"));
  strictEqual((await app(manager).request("/v1/cluster")).status, 200);
});

Deno.test("api guard - without a token the API binds loopback only, and refuses another address saying why", () => {
  strictEqual(apiBindHost(undefined, undefined), "127.0.0.1");
  strictEqual(apiBindHost("127.0.0.2", undefined), "127.0.0.2");
  strictEqual(apiBindHost("::1", undefined), "::1");
  throws(
    () => apiBindHost("0.0.0.0", undefined),
    (e: unknown) => e instanceof ConfigError && /COOP_API_TOKEN/.test(`${e}`),
  );
  throws(() => apiBindHost("10.1.2.3", undefined), ConfigError);
  strictEqual(apiBindHost(undefined, "secret"), "0.0.0.0");
  strictEqual(apiBindHost("10.1.2.3", "secret"), "10.1.2.3");
});
