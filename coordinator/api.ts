/**
 * The coordinator's control API (Hono): health, cluster/node/actor views, and actor logs, as JSON. The app is built
 * from an {@link ApiDeps} the coordinator implements, so tests call `app.request()` with no network. Routes are
 * @hono/zod-openapi routes: the zod schemas in api_schemas.ts validate requests (a bad one gets a 400 naming the
 * field) and generate `/openapi.json`; `/docs` is the interactive reference. More routers (runs, events, metrics,
 * the dashboard) are mounted through `options.routers` before the first request (Hono builds its matcher then); the
 * error handler, the 404 handler, bearer auth and the body-size limit cover them too.
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Hono, MiddlewareHandler } from "hono";
import { NotFoundError } from "../shared/mod.ts";
import { ActorSchema, ClusterSchema, LogLineSchema, NodeSchema } from "./api_schemas.ts";
import {
  ACTOR_STATES,
  type ActorState,
  type ActorView,
  apiGuard,
  bearerAuth,
  bodyLimits,
  type ClusterSnapshot,
  errorBody,
  errorResponse,
  errors,
  IdParam,
  json,
  type LogLine,
  openApiRouter,
} from "./http/mod.ts";
import { referenceRouter } from "./openapi_page.ts";

/** What the coordinator provides to the API. Methods may be sync or async. */
export interface ApiDeps {
  snapshot(): ClusterSnapshot | Promise<ClusterSnapshot>;
  /** One actor, or undefined when unknown. */
  actor(id: string): ActorView | undefined | Promise<ActorView | undefined>;
  /** The most recent `limit` log lines of an actor, oldest first. */
  actorLogs(id: string, options: { limit: number }): LogLine[] | Promise<LogLine[]>;
}

/** Options for {@link createApp}. */
export interface ApiOptions {
  /** Bearer token required on /v1/* routes; unset = no auth. See {@link apiTokenFromEnv}. */
  token?: string;
  /** Extra routers mounted under the given paths, e.g. `{ "/v1/runs": runsRouter }`. */
  // deno-lint-ignore no-explicit-any
  routers?: Record<string, Hono<any, any, any>>;
  /** Middleware run first on every request (e.g. request counting for /metrics). */
  middleware?: MiddlewareHandler[];
  /** Largest accepted request body (bytes); larger ones get a 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** Default and maximum number of log lines `GET /v1/actors/:id` returns. */
export const DEFAULT_LOG_LINES = 100;
const MAX_LOG_LINES = 10_000;

const ACTORS_QUERY = z.strictObject({
  state: z.enum(ACTOR_STATES).optional(),
  node: z.string().min(1).optional(),
  class: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
});

const ACTOR_QUERY = z.strictObject({
  logs: z.coerce.number().int().min(0).max(MAX_LOG_LINES).optional(),
});

const SECURITY = [{ bearer: [] }];

/** Builds the control API app. */
export function createApp(deps: ApiDeps, options: ApiOptions = {}): OpenAPIHono {
  const app = openApiRouter();
  app.onError(errorResponse);
  for (const middleware of options.middleware ?? []) app.use("*", middleware);
  app.notFound((c) => {
    return c.json(errorBody("NotFoundError", `No route for ${c.req.method} ${c.req.path}`), 404);
  });
  app.use("*", apiGuard());
  app.get("/healthz", (c) => c.json({ ok: true }));
  if (options.token !== undefined) app.use("/v1/*", bearerAuth({ token: options.token }));
  app.use("/v1/*", bodyLimits({ maxBytes: options.maxBodyBytes }));

  addClusterRoutes(app, deps);
  addActorRoutes(app, deps);
  for (const [path, router] of Object.entries(options.routers ?? {})) app.route(path, router);
  addDocs(app);
  return app;
}

/** A route that requires the bearer token (when the API has one), for the OpenAPI document. */
function route<R extends Parameters<typeof createRoute>[0]>(config: R) {
  return createRoute({ ...config, security: SECURITY });
}

/** `GET /v1/cluster`, `/v1/nodes` and `/v1/nodes/{id}`. */
function addClusterRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/cluster",
      summary: "The whole cluster: nodes, actors, pending placements, placement groups, and a summary",
      responses: { 200: json(ClusterSchema, "The cluster snapshot"), ...errors(401) },
    }),
    async (c) => {
      const snapshot = await deps.snapshot();
      return c.json({ ...snapshot, summary: summarize(snapshot) } as never, 200);
    },
  );
  app.openapi(
    route({
      method: "get",
      path: "/v1/nodes",
      summary: "Registered nodes with total and free resources",
      responses: { 200: json(z.object({ nodes: z.array(NodeSchema) }), "The nodes"), ...errors(401) },
    }),
    async (c) => c.json({ nodes: (await deps.snapshot()).nodes } as never, 200),
  );
  app.openapi(
    route({
      method: "get",
      path: "/v1/nodes/{id}",
      summary: "One node",
      request: { params: IdParam },
      responses: { 200: json(z.object({ node: NodeSchema }), "The node"), ...errors(401, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const node = (await deps.snapshot()).nodes.find((n) => n.id === id);
      if (node === undefined) throw new NotFoundError(`Node "${id}" is not registered`);
      return c.json({ node } as never, 200);
    },
  );
}

/** `GET /v1/actors` (filtered) and `/v1/actors/{id}` with its recent logs. */
function addActorRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  app.openapi(
    route({
      method: "get",
      path: "/v1/actors",
      summary: "Actors, filtered by state, node, class or name",
      request: { query: ACTORS_QUERY },
      responses: { 200: json(z.object({ actors: z.array(ActorSchema) }), "The actors"), ...errors(400, 401) },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const actors = (await deps.snapshot()).actors.filter((a) =>
        (query.state === undefined || a.state === query.state) &&
        (query.node === undefined || a.nodeId === query.node) &&
        (query.class === undefined || a.className === query.class) &&
        (query.name === undefined || a.name === query.name)
      );
      return c.json({ actors } as never, 200);
    },
  );
  app.openapi(
    route({
      method: "get",
      path: "/v1/actors/{id}",
      summary: "One actor with its most recent log lines",
      request: { params: IdParam, query: ACTOR_QUERY },
      responses: {
        200: json(z.object({ actor: ActorSchema, logs: z.array(LogLineSchema) }), "The actor and its logs"),
        ...errors(400, 401, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const query = c.req.valid("query");
      const actor = await deps.actor(id);
      if (actor === undefined) throw new NotFoundError(`Actor "${id}" does not exist`);
      const logs = await deps.actorLogs(id, { limit: query.logs ?? DEFAULT_LOG_LINES });
      return c.json({ actor, logs } as never, 200);
    },
  );
}

/** `/openapi.json` (with the bearer scheme) and the `/docs` reference page. */
function addDocs(app: OpenAPIHono): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "The COOP_API_TOKEN the coordinator was started with (when it was)",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Coop control API",
      version: "1",
      description: "Cluster views, actor logs, training runs, live events. Errors are `{error: {name, message}}`.",
    },
  });
  app.route("/docs", referenceRouter());
}

/** Counts for a quick look: nodes alive/total, actors by state, pending items. */
export interface ClusterSummary {
  nodes: number;
  aliveNodes: number;
  actors: number;
  actorsByState: Record<ActorState, number>;
  pending: number;
}

function summarize(snapshot: ClusterSnapshot): ClusterSummary {
  const actorsByState = Object.fromEntries(ACTOR_STATES.map((s) => [s, 0])) as Record<ActorState, number>;
  for (const actor of snapshot.actors) actorsByState[actor.state] = (actorsByState[actor.state] ?? 0) + 1;
  return {
    nodes: snapshot.nodes.length,
    aliveNodes: snapshot.nodes.filter((n) => n.alive).length,
    actors: snapshot.actors.length,
    actorsByState,
    pending: snapshot.pending.length,
  };
}
