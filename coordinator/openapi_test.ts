import { deepStrictEqual, ok, strictEqual } from "node:assert";
import SwaggerParser from "@apidevtools/swagger-parser";
import type { Cluster } from "../actors/core/cluster.ts";
import { createApp } from "./api.ts";
import { eventsRouter } from "./dashboard/events.ts";
import { RunManager } from "./run/manager.ts";
import { runsRouter } from "./run/router.ts";
import { EMPTY_API_DEPS } from "./api_test_deps.ts";

const deps = EMPTY_API_DEPS;

function app() {
  const runs = new RunManager(null as unknown as Cluster);
  return createApp(deps, {
    token: "t",
    routers: { "/v1/runs": runsRouter(runs), "/v1/events": eventsRouter(deps, runs) },
  });
}

Deno.test("openapi - /openapi.json is a valid OpenAPI 3.1 document of every route, generated from the zod schemas", async () => {
  const response = await app().request("/openapi.json");
  strictEqual(response.status, 200);
  const spec = await response.json();
  strictEqual(spec.openapi, "3.1.0");
  // swagger-parser validates against the OpenAPI schema and resolves every $ref (it mutates: give it a copy).
  await SwaggerParser.validate(structuredClone(spec));
  deepStrictEqual(Object.keys(spec.paths).sort(), [
    "/v1/actors",
    "/v1/actors/{id}",
    "/v1/cluster",
    "/v1/events",
    "/v1/nodes",
    "/v1/nodes/{id}",
    "/v1/runs",
    "/v1/runs/{id}",
    "/v1/runs/{id}/metrics",
    "/v1/runs/{id}/resume",
    "/v1/runs/{id}/stop",
  ]);
  const stop = spec.paths["/v1/runs/{id}/stop"].post;
  deepStrictEqual(Object.keys(stop.responses).sort(), ["202", "401", "404", "409"]);
  deepStrictEqual(stop.security, [{ bearer: [] }]);
  strictEqual(spec.components.securitySchemes.bearer.scheme, "bearer");
  // The run states in the spec are the ones the manager uses, interrupted included.
  ok(spec.components.schemas.Run.properties.state.enum.includes("interrupted"));
  const start = spec.paths["/v1/runs"].post.requestBody.content["application/json"].schema;
  strictEqual(start.$ref, "#/components/schemas/StartRun");
  ok(spec.paths["/v1/actors"].get.parameters.some((p: { name: string }) => p.name === "state"));
});

Deno.test("openapi - the reference page and its Swagger UI assets are served without a CDN", async () => {
  const api = app();
  const page = await api.request("/docs");
  strictEqual(page.status, 200);
  const html = await page.text();
  const assets = [...html.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)].map((m) => m[1]!);
  deepStrictEqual(assets.sort(), ["/docs/init.js", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"]);
  for (const asset of assets) {
    const response = await api.request(asset);
    strictEqual(response.status, 200, asset);
    ok((await response.arrayBuffer()).byteLength > 50, asset);
  }
  ok((await (await api.request("/docs/init.js")).text()).includes('"/openapi.json"'));
});
