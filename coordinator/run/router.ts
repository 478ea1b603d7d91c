/**
 * The runs router of the control API, mounted at `/v1/runs` through `createApp(deps, { routers })`; its routes
 * are OpenAPI routes, so they appear in `/openapi.json` with the schemas that validate them:
 *
 * - `POST /v1/runs` `{config, resume?}` (config as an object, or YAML/JSON text) → 201 `{run}`
 * - `GET /v1/runs` → `{runs}`; `GET /v1/runs/:id` → `{run}` (status, step, versions, staleness, accounting)
 * - `GET /v1/runs/:id/metrics?since=N` → `{metrics}`; with `Accept: text/event-stream` (or `?stream=1`) a
 *   server-sent-events stream of `metric` and `status` events that ends with the run
 * - `POST /v1/runs/:id/stop` → 202 `{run}` (409 when the run already ended)
 * - `POST /v1/runs/:id/resume` → 202 `{run}`: an interrupted, stopped or failed run continues from its last
 *   checkpoint under the same id (409 for a running or finished run)
 */
import { MetricPointSchema, RunIdParam, RunSchema, StartRunBody } from "./schemas.ts";
import { errors, json, openApiRouter } from "../http/mod.ts";
import { createRoute, type OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { streamSSE } from "hono/streaming";
import { type JobConfig, parseConfigText, parseJobConfig } from "../../rl/mod.ts";

import type { RunEvent } from "./job.ts";
import type { RunManager } from "./manager.ts";
import { checkJobPaths, type PathRoots, rootsFromEnv } from "./paths.ts";

const METRICS_QUERY = z.strictObject({
  since: z.coerce.number().int().min(0).optional().openapi({ description: "Only points after this step" }),
  stream: z.enum(["0", "1", "true", "false"]).optional().openapi({ description: "Server-sent events (as Accept)" }),
});

const RunBody = z.object({ run: RunSchema });
const route = <R extends RouteConfig>(config: R) => createRoute({ ...config, security: [{ bearer: [] }] });

/** Options for {@link runsRouter}. */
export interface RunsRouterOptions {
  /** Where config paths may point (default: {@link rootsFromEnv}). */
  roots?: PathRoots;
}

// The routes as OpenAPI declarations, apart from their handlers so the router below reads as the API's table.
const START = route({
  method: "post",
  path: "/",
  summary: "Start a run",
  request: { body: { content: { "application/json": { schema: StartRunBody } }, required: true } },
  responses: { 201: json(RunBody, "The run, started"), ...errors(400, 401, 413) },
});
const LIST = route({
  method: "get",
  path: "/",
  summary: "Every run, newest first (kept across coordinator failovers)",
  responses: { 200: json(z.object({ runs: z.array(RunSchema) }), "The runs"), ...errors(401) },
});
const GET = route({
  method: "get",
  path: "/{id}",
  summary: "One run's status",
  request: { params: RunIdParam },
  responses: { 200: json(RunBody, "The run"), ...errors(401, 404) },
});
const STOP = route({
  method: "post",
  path: "/{id}/stop",
  summary: "Ask a running run to stop after its current step (it checkpoints first)",
  request: { params: RunIdParam },
  responses: { 202: json(RunBody, "Stopping"), ...errors(401, 404, 409) },
});
const RESUME = route({
  method: "post",
  path: "/{id}/resume",
  summary: "Continue an interrupted, stopped or failed run from its last checkpoint, under the same id",
  request: { params: RunIdParam },
  responses: { 202: json(RunBody, "Resumed"), ...errors(401, 404, 409) },
});
const METRICS = route({
  method: "get",
  path: "/{id}/metrics",
  summary: "A run's metric history; as server-sent events (`metric`, `status`) until the run ends",
  request: { params: RunIdParam, query: METRICS_QUERY },
  responses: {
    200: {
      description: "The history as JSON, or an event stream (Accept: text/event-stream or ?stream=1)",
      content: {
        "application/json": { schema: z.object({ run: RunSchema, metrics: z.array(MetricPointSchema) }) },
        "text/event-stream": { schema: z.string() },
      },
    },
    ...errors(400, 401, 404),
  },
});

/** Builds the `/v1/runs` router over a run manager. */
export function runsRouter(manager: RunManager, options: RunsRouterOptions = {}): OpenAPIHono {
  const roots = options.roots ?? rootsFromEnv();
  const app = openApiRouter();
  app.openapi(START, (c) => {
    const body = c.req.valid("json");
    let config: JobConfig;
    try {
      config = typeof body.config === "string" ? parseConfigText(body.config) : parseJobConfig(body.config);
    } catch (error) {
      throw new HTTPException(400, { message: (error as Error).message });
    }
    // Remote callers name files on this host: every path must be inside the roots before anything reads it.
    checkJobPaths(config, roots, { resume: body.resume });
    return c.json({ run: manager.start(config, { resume: body.resume }) } as never, 201);
  });
  app.openapi(LIST, (c) => c.json({ runs: manager.list() } as never, 200));
  app.openapi(GET, (c) => c.json({ run: manager.get(c.req.valid("param").id) } as never, 200));
  app.openapi(STOP, (c) => c.json({ run: manager.stop(c.req.valid("param").id) } as never, 202));
  app.openapi(RESUME, async (c) => c.json({ run: await manager.resume(c.req.valid("param").id) } as never, 202));
  app.openapi(METRICS, (c) => {
    const { id } = c.req.valid("param");
    const query = c.req.valid("query");
    const status = manager.get(id);
    const wantsStream = query.stream === "1" || query.stream === "true" ||
      (c.req.header("accept") ?? "").includes("text/event-stream");
    if (!wantsStream) return c.json({ run: status, metrics: manager.metrics(id, query.since) } as never, 200);
    return streamMetrics(c, manager, id, query.since) as never;
  });
  return app;
}

function streamMetrics(c: Parameters<typeof streamSSE>[0], manager: RunManager, id: string, since?: number) {
  return streamSSE(c, async (stream) => {
    const queue: RunEvent[] = manager.metrics(id, since).map((point) => ({ type: "metric", point }));
    let wake = () => {};
    const unsubscribe = manager.subscribe(id, (event) => {
      queue.push(event);
      wake();
    });
    stream.onAbort(() => wake());
    try {
      queue.push({ type: "status", status: manager.get(id) });
      for (;;) {
        while (queue.length > 0) {
          const event = queue.shift()!;
          const data = event.type === "metric" ? event.point : event.status;
          await stream.writeSSE({ event: event.type, data: JSON.stringify(data) });
          if (event.type === "status" && event.status.state !== "running") return;
        }
        if (stream.aborted) return;
        await new Promise<void>((resolve) => wake = resolve);
      }
    } finally {
      unsubscribe();
    }
  });
}
