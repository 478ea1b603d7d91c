/**
 * The cluster API's response schemas (zod, extended with `.openapi()` by @hono/zod-openapi): `/openapi.json` is
 * generated from them, so the spec cannot drift from what the server sends. They describe the views in
 * http/api_types.ts; the run routes' schemas live in run/schemas.ts.
 */
import { z } from "@hono/zod-openapi";
import { ACTOR_STATES } from "./http/mod.ts";

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
