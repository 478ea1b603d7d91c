/**
 * The run routes' request and response schemas (zod, extended with `.openapi()` by @hono/zod-openapi): the routes
 * validate requests with them and `/openapi.json` is generated from them. Response schemas describe job.ts's views.
 */
import { z } from "@hono/zod-openapi";
import { RUN_STATES } from "./job.ts";

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
