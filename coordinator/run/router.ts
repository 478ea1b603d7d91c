/**
 * The runs router of the control API, mounted at `/v1/runs` through `createApp(deps, { routers })`:
 *
 * - `POST /v1/runs` `{config, resume?}` (config as an object, or YAML/JSON text) → 201 `{run}`
 * - `GET /v1/runs` → `{runs}`; `GET /v1/runs/:id` → `{run}` (status, step, versions, staleness, accounting)
 * - `GET /v1/runs/:id/metrics?since=N` → `{metrics}`; with `Accept: text/event-stream` (or `?stream=1`) a
 *   server-sent-events stream of `metric` and `status` events that ends with the run
 * - `POST /v1/runs/:id/stop` → 202 `{run}` (409 when the run already ended)
 * - `POST /v1/runs/:id/resume` → 202 `{run}`: an interrupted, stopped or failed run continues from its last
 *   checkpoint under the same id (409 for a running or finished run)
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { streamSSE } from "hono/streaming";
import { z } from "zod";
import { type JobConfig, parseConfigText, parseJobConfig } from "../../rl/mod.ts";
import { parseQuery } from "../api.ts";
import { readJsonBody } from "../body_limit.ts";
import type { RunEvent, RunManager } from "./manager.ts";

const METRICS_QUERY = z.strictObject({
  since: z.coerce.number().int().min(0).optional(),
  stream: z.enum(["0", "1", "true", "false"]).optional(),
});

const BODY = z.object({
  config: z.union([z.string(), z.record(z.string(), z.unknown())]),
  resume: z.string().optional(),
});

/** Builds the `/v1/runs` router over a run manager. */
export function runsRouter(manager: RunManager): Hono {
  const app = new Hono();
  app.post("/", async (c) => {
    const body = await readJsonBody(c, "{config, resume?}");
    const parsed = BODY.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new HTTPException(400, {
        message: `Invalid request body: ${issue.path.join(".") || "body"}: ${issue.message}`,
      });
    }
    let config: JobConfig;
    try {
      const raw = parsed.data.config;
      config = typeof raw === "string" ? parseConfigText(raw) : parseJobConfig(raw);
    } catch (error) {
      throw new HTTPException(400, { message: (error as Error).message });
    }
    const run = manager.start(config, { resume: parsed.data.resume });
    return c.json({ run }, 201);
  });
  app.get("/", (c) => c.json({ runs: manager.list() }));
  app.get("/:id", (c) => c.json({ run: manager.get(c.req.param("id")) }));
  app.post("/:id/stop", (c) => c.json({ run: manager.stop(c.req.param("id")) }, 202));
  app.post("/:id/resume", async (c) => c.json({ run: await manager.resume(c.req.param("id")) }, 202));
  app.get("/:id/metrics", (c) => {
    const id = c.req.param("id");
    const query = parseQuery(METRICS_QUERY, c);
    const status = manager.get(id);
    const wantsStream = query.stream === "1" || query.stream === "true" ||
      (c.req.header("accept") ?? "").includes("text/event-stream");
    if (!wantsStream) return c.json({ run: status, metrics: manager.metrics(id, query.since) });
    return streamSSE(c, async (stream) => {
      const queue: RunEvent[] = manager.metrics(id, query.since).map((point) => ({ type: "metric", point }));
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
  });
  return app;
}
