/**
 * `GET /v1/events`: the dashboard's one server-sent-events stream. It opens with a `cluster` snapshot, every
 * run's `run` status and its metric `history`, then sends new `metric` points as they come, `run` statuses
 * coalesced to at most one per run every 250 ms (a run changes status many times per step), and a `cluster`
 * snapshot every `clusterMs`. It lives under /v1 so it has the API's bearer auth.
 *
 * The API mounts this router, so it does not import the API (`api.ts`) or the run manager: it reads the cluster and
 * the runs through the two small interfaces below, which `ApiDeps` and `RunManager` satisfy.
 */
import { errors } from "../http/mod.ts";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { streamSSE } from "hono/streaming";

import type { MetricPoint, RunEvent, RunStatus } from "../run/job.ts";

/** Where the stream's `cluster` snapshots come from (the API's `ApiDeps`). */
export interface ClusterSource {
  snapshot(): unknown;
}

/** The runs the stream reports (a `RunManager`). */
export interface RunFeed {
  list(): RunStatus[];
  metrics(id: string): MetricPoint[];
  subscribeAll(listener: (id: string, event: RunEvent) => void): () => void;
}

/** Options for {@link eventsRouter}. */
export interface EventsOptions {
  /** How often a cluster snapshot is sent (ms). Default 1000. */
  clusterMs?: number;
  /** Metric points per run sent in the opening history (the newest). Default 2000. */
  historyPoints?: number;
}

const STATUS_MS = 250;

/** Builds the `/v1/events` router. */
export function eventsRouter(deps: ClusterSource, runs: RunFeed, options: EventsOptions = {}): OpenAPIHono {
  // A plain router: the one route takes no parameters or body, so the API's validation hook would never run.
  const app = new OpenAPIHono();
  const historyPoints = options.historyPoints ?? 2000;
  const route = createRoute({
    method: "get",
    path: "/",
    summary: "The dashboard's live stream: cluster snapshots, run statuses, metric history and new points",
    security: [{ bearer: [] }],
    responses: {
      200: {
        description:
          "Server-sent events `cluster`, `run`, `history` ({id, metrics}), `metric` ({id, point}), `problem`",
        content: { "text/event-stream": { schema: z.string() } },
      },
      ...errors(401),
    },
  });
  app.openapi(route, (c) =>
    streamSSE(c, async (stream) => {
      const queue: { event: string; data: unknown }[] = [];
      const dirty = new Map<string, RunStatus>();
      let wake = () => {};
      const push = (event: string, data: unknown) => {
        queue.push({ event, data });
        wake();
      };
      const unsubscribe = runs.subscribeAll((id: string, event: RunEvent) => {
        if (event.type === "metric") push("metric", { id, point: event.point });
        else if (event.status.state !== "running") {
          dirty.delete(id);
          push("run", event.status);
        } else dirty.set(id, event.status);
      });
      const flushStatus = setInterval(() => {
        for (const status of dirty.values()) queue.push({ event: "run", data: status });
        dirty.clear();
        wake();
      }, STATUS_MS);
      const cluster = setInterval(async () => {
        try {
          push("cluster", await deps.snapshot());
        } catch (error) {
          push("problem", { message: `Cannot read the cluster: ${(error as Error).message}` });
        }
      }, options.clusterMs ?? 1000);
      stream.onAbort(() => wake());
      try {
        push("cluster", await deps.snapshot());
        for (const status of runs.list()) {
          push("run", status);
          push("history", { id: status.id, metrics: runs.metrics(status.id).slice(-historyPoints) });
        }
        while (!stream.aborted) {
          while (queue.length > 0) {
            const { event, data } = queue.shift()!;
            await stream.writeSSE({ event, data: JSON.stringify(data) });
          }
          await new Promise<void>((resolve) => wake = resolve);
        }
      } finally {
        unsubscribe();
        clearInterval(flushStatus);
        clearInterval(cluster);
      }
    }));
  return app;
}
