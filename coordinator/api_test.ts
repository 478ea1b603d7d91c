import { type ActorView, apiTokenFromEnv, bearerAuth, type ClusterSnapshot, type LogLine } from "./http/mod.ts";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../shared/errors.ts";
import { type ApiDeps, createApp, DEFAULT_LOG_LINES } from "./api.ts";

const ACTORS: ActorView[] = [
  { id: "a1", name: "counter", className: "Counter", nodeId: "n1", state: "alive", restarts: 0 },
  { id: "a2", className: "Learner", nodeId: "n2", state: "restarting", restarts: 1, maxRestarts: 3 },
  {
    id: "a3",
    className: "Learner",
    nodeId: null,
    state: "pending",
    restarts: 0,
    pendingReason: 'No node has 2 free GPUs (largest free: node "n2" with 1); waiting for resources to free up',
  },
];

function snapshot(): ClusterSnapshot {
  const resources = { cpu: 4, memoryMb: 1024, gpus: [], resources: {} };
  return {
    coordinator: { id: "coord-1", startedAt: "2026-01-01T00:00:00.000Z" },
    nodes: [
      { id: "n1", alive: true, labels: {}, total: resources, free: resources, actors: ["a1"] },
      { id: "n2", alive: false, labels: { zone: "b" }, total: resources, free: resources, actors: ["a2"] },
    ],
    actors: ACTORS,
    pending: [{ kind: "actor", id: "a3", reason: ACTORS[2]!.pendingReason! }],
    placementGroups: [],
  };
}

function deps(): ApiDeps & { logCalls: Array<[string, number]> } {
  const logCalls: Array<[string, number]> = [];
  return {
    logCalls,
    snapshot,
    actor: (id) => ACTORS.find((a) => a.id === id),
    actorLogs: async (id, { limit }): Promise<LogLine[]> => {
      logCalls.push([id, limit]);
      await Promise.resolve();
      return [{ ts: 1, stream: "stdout", line: `hello from ${id}` }];
    },
  };
}

async function json(response: Response): Promise<Record<string, unknown>> {
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  return await response.json();
}

Deno.test("api - healthz answers without auth", async () => {
  const app = createApp(deps(), { token: "s3cret" });
  const res = await app.request("/healthz");
  assert.equal(res.status, 200);
  assert.deepEqual(await json(res), { ok: true });
});

Deno.test("api - cluster returns the snapshot and a summary", async () => {
  const res = await createApp(deps()).request("/v1/cluster");
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.deepEqual((body.coordinator as { id: string }).id, "coord-1");
  assert.deepEqual(body.summary, {
    nodes: 2,
    aliveNodes: 1,
    actors: 3,
    actorsByState: { pending: 1, starting: 0, alive: 1, restarting: 1, dead: 0 },
    pending: 1,
  });
});

Deno.test("api - nodes list and one node, 404 with reason for an unknown one", async () => {
  const app = createApp(deps());
  const list = await json(await app.request("/v1/nodes"));
  assert.deepEqual((list.nodes as Array<{ id: string }>).map((n) => n.id), ["n1", "n2"]);
  const one = await json(await app.request("/v1/nodes/n2"));
  assert.deepEqual((one.node as { labels: unknown }).labels, { zone: "b" });
  const missing = await app.request("/v1/nodes/zz");
  assert.equal(missing.status, 404);
  assert.deepEqual(await json(missing), { error: { name: "NotFoundError", message: 'Node "zz" is not registered' } });
});

Deno.test("api - actors filter by state, node, class and name", async () => {
  const app = createApp(deps());
  const ids = async (query: string) =>
    ((await json(await app.request(`/v1/actors${query}`))).actors as ActorView[]).map((a) => a.id);
  assert.deepEqual(await ids(""), ["a1", "a2", "a3"]);
  assert.deepEqual(await ids("?state=pending"), ["a3"]);
  assert.deepEqual(await ids("?node=n2"), ["a2"]);
  assert.deepEqual(await ids("?class=Learner&state=restarting"), ["a2"]);
  assert.deepEqual(await ids("?name=counter"), ["a1"]);
});

Deno.test("api - bad query parameters are 400 naming the parameter", async () => {
  const app = createApp(deps());
  const badState = await app.request("/v1/actors?state=zombie");
  assert.equal(badState.status, 400);
  const body = await json(badState) as { error: { name: string; message: string } };
  assert.equal(body.error.name, "BadRequestError");
  assert.match(body.error.message, /^Invalid query parameter "state"/);
  const unknown = await json(await app.request("/v1/actors?colour=red")) as { error: { message: string } };
  assert.match(unknown.error.message, /"colour"/);
  const badLogs = await app.request("/v1/actors/a1?logs=-5");
  assert.equal(badLogs.status, 400);
  assert.match((await json(badLogs) as { error: { message: string } }).error.message, /"logs"/);
});

Deno.test("api - one actor with its recent logs; 404 names the actor", async () => {
  const d = deps();
  const app = createApp(d);
  const body = await json(await app.request("/v1/actors/a2?logs=5"));
  assert.equal((body.actor as ActorView).className, "Learner");
  assert.deepEqual(body.logs, [{ ts: 1, stream: "stdout", line: "hello from a2" }]);
  await app.request("/v1/actors/a1");
  assert.deepEqual(d.logCalls, [["a2", 5], ["a1", DEFAULT_LOG_LINES]]);
  const missing = await app.request("/v1/actors/nope");
  assert.equal(missing.status, 404);
  assert.deepEqual(await json(missing), { error: { name: "NotFoundError", message: 'Actor "nope" does not exist' } });
});

Deno.test("api - unknown routes and failing deps give JSON errors", async () => {
  const failing: ApiDeps = {
    ...deps(),
    snapshot: () => {
      throw new TypeError("registry exploded");
    },
  };
  const app = createApp(failing);
  const missing = await app.request("/v1/nope");
  assert.equal(missing.status, 404);
  assert.deepEqual(await json(missing), { error: { name: "NotFoundError", message: "No route for GET /v1/nope" } });
  const originalError = console.error;
  console.error = () => {};
  try {
    const broken = await app.request("/v1/cluster");
    assert.equal(broken.status, 500);
    assert.deepEqual(await json(broken), { error: { name: "TypeError", message: "registry exploded" } });
  } finally {
    console.error = originalError;
  }
});

Deno.test("auth - /v1 routes need the bearer token when one is configured", async () => {
  const app = createApp(deps(), { token: "s3cret" });
  const none = await app.request("/v1/cluster");
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="coop"');
  assert.equal((await json(none) as { error: { name: string } }).error.name, "UnauthorizedError");
  const wrong = await app.request("/v1/cluster", { headers: { Authorization: "Bearer s3cre" } });
  assert.equal(wrong.status, 401);
  assert.match((await json(wrong) as { error: { message: string } }).error.message, /Invalid bearer token/);
  const basic = await app.request("/v1/cluster", { headers: { Authorization: "Basic czNjcmV0" } });
  assert.equal(basic.status, 401);
  const right = await app.request("/v1/cluster", { headers: { Authorization: "bearer s3cret" } });
  assert.equal(right.status, 200);
  const unknownRoute = await app.request("/v1/nope");
  assert.equal(unknownRoute.status, 401, "auth runs before routing so it does not reveal which routes exist");
});

Deno.test("auth - bearerAuth refuses an empty token; COOP_API_TOKEN is read strictly", () => {
  assert.throws(() => bearerAuth({ token: "" }), ConfigError);
  const env = (value: string | undefined) => ({ get: (_: string) => value });
  assert.equal(apiTokenFromEnv(env(undefined)), undefined);
  assert.equal(apiTokenFromEnv(env("abc")), "abc");
  assert.throws(() => apiTokenFromEnv(env("  ")), /COOP_API_TOKEN/);
});

Deno.test("routers - mounted routers get auth and JSON errors", async () => {
  const runs = new Hono();
  runs.get("/", (c) => c.json({ runs: [] }));
  runs.get("/:id", (c) => {
    throw new HTTPException(404, { message: `Run "${c.req.param("id")}" does not exist` });
  });
  const app = createApp(deps(), { token: "t", routers: { "/v1/runs": runs } });
  const auth = { headers: { Authorization: "Bearer t" } };
  assert.equal((await app.request("/v1/runs")).status, 401);
  assert.deepEqual(await json(await app.request("/v1/runs", auth)), { runs: [] });
  const missing = await app.request("/v1/runs/r9", auth);
  assert.equal(missing.status, 404);
  assert.deepEqual(await json(missing), { error: { name: "NotFoundError", message: 'Run "r9" does not exist' } });
  // Routers can also be mounted after creation, before the first request (Hono builds its matcher then).
  const later = createApp(deps(), { token: "t" });
  later.route("/v1/late", new Hono().get("/", (c) => c.json({ late: true })));
  assert.equal((await later.request("/v1/late")).status, 401);
  assert.deepEqual(await json(await later.request("/v1/late", auth)), { late: true });
});
