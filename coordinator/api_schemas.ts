/**
 * The control API's request and response schemas (zod, extended with `.openapi()` by @hono/zod-openapi): the
 * routes validate requests with them and `/openapi.json` is generated from them, so the spec cannot drift from
 * what the server accepts. Response schemas describe the TypeScript views in api.ts and run/job.ts.
 */
import { z } from "@hono/zod-openapi";
import { ACTOR_STATES } from "./api_types.ts";
import { RUN_STATES } from "./run/job.ts";

/** Every failure: `{error: {name, message}}`. */
export const ErrorBody = z.object({
  error: z.object({
    name: z.string().openapi({ example: "NotFoundError" }),
    message: z.string().openapi({ example: 'Run "x" does not exist' }),
  }),
}).openapi("Error");

const Resources = z.object({
  cpu: z.number(),
  memoryMb: z.number(),
  gpus: z.array(z.number().int()),
  resources: z.record(z.string(), z.number()),
}).openapi("NodeResources");

export const NodeSchema = z.object({
  id: z.string(),
  address: z.string().optional(),
  alive: z.boolean(),
  labels: z.record(z.string(), z.string()),
  total: Resources,
  free: Resources,
  actors: z.array(z.string()),
  lastHeartbeatMs: z.number().optional(),
}).openapi("Node");

export const ActorSchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  className: z.string(),
  nodeId: z.string().nullable(),
  state: z.enum(ACTOR_STATES),
  restarts: z.number().int(),
  maxRestarts: z.number().int().optional(),
  pendingReason: z.string().optional(),
  resources: z.record(z.string(), z.unknown()).optional(),
  gpuIds: z.array(z.number().int()).optional(),
  placementGroup: z.string().optional(),
  error: z.string().optional(),
}).openapi("Actor");

export const LogLineSchema = z.object({
  ts: z.number(),
  stream: z.enum(["stdout", "stderr"]),
  line: z.string(),
}).openapi("LogLine");

export const ClusterSchema = z.object({
  coordinator: z.object({
    id: z.string(),
    version: z.string().optional(),
    startedAt: z.string(),
    natsUrl: z.string().optional(),
  }),
  nodes: z.array(NodeSchema),
  actors: z.array(ActorSchema),
  pending: z.array(z.record(z.string(), z.unknown())),
  placementGroups: z.array(z.record(z.string(), z.unknown())),
  summary: z.object({
    nodes: z.number().int(),
    aliveNodes: z.number().int(),
    actors: z.number().int(),
    actorsByState: z.record(z.string(), z.number().int()),
    pending: z.number().int(),
  }),
}).openapi("Cluster");

const Accounting = z.object({
  generated: z.number().int(),
  scored: z.number().int(),
  trained: z.number().int(),
  droppedStale: z.number().int(),
  refused: z.number().int().optional(),
  awaitingScore: z.number().int(),
  awaitingTraining: z.number().int(),
}).openapi("SampleAccounting");

export const RunSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(["rl", "sft", "rm-pretrain"]),
  mode: z.string().optional(),
  state: z.enum(RUN_STATES as [string, ...string[]]),
  step: z.number().int(),
  steps: z.number().int(),
  policyVersion: z.number().int(),
  rmVersion: z.number().int(),
  staleness: z.object({ max: z.number(), last: z.number(), highest: z.number() }),
  accounting: Accounting,
  attestation: z.object({
    checked: z.number().int(),
    rejected: z.number().int(),
    unverified: z.number().int(),
    lastRejection: z.string().optional(),
  }).optional(),
  checkpoint: z.string().optional(),
  resumeCommand: z.string().optional().openapi({ example: "coop runs resume cooper-1a2b3c" }),
  error: z.object({ name: z.string(), message: z.string() }).optional(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  notes: z.array(z.string()),
}).openapi("Run");

/** A metric point: step, seconds since start, and named numbers (null where JSON cannot carry NaN). */
export const MetricPointSchema = z.object({ step: z.number().int(), time: z.number() })
  .catchall(z.number().nullable())
  .openapi("MetricPoint", { example: { step: 3, time: 12.5, reward_mean: 0.42, train_accuracy: 0.5 } });

export const StartRunBody = z.object({
  config: z.union([z.string(), z.record(z.string(), z.unknown())]).openapi({
    description: "The run config: an object, or YAML/JSON text (as `coop run` sends the file)",
  }),
  resume: z.string().optional().openapi({ description: "Checkpoint directory to resume an RL run from" }),
}).openapi("StartRun");

export const RunIdParam = z.object({
  id: z.string().min(1).openapi({ param: { name: "id", in: "path" }, example: "cooper-1a2b3c" }),
});

export const IdParam = z.object({
  id: z.string().min(1).openapi({ param: { name: "id", in: "path" } }),
});

/** Error responses by status, for the routes' `responses`. */
export function errors(...statuses: (400 | 401 | 404 | 409 | 413)[]) {
  const text: Record<number, string> = {
    400: "Bad request (the message names the field)",
    401: "Missing or wrong bearer token",
    404: "Unknown id (the message names it)",
    409: "Conflicts with the run's state",
    413: "Request body too large",
  };
  return Object.fromEntries(
    statuses.map((s) => [s, { description: text[s]!, content: { "application/json": { schema: ErrorBody } } }]),
  );
}

/** A JSON response. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}
