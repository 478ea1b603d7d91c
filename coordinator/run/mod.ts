/**
 * Training runs on the cluster: the GRPO driver (`rule` | `static-rm` | `cooper`, asynchronous with a staleness
 * bound), SFT and RM-pretraining jobs, checkpoints, the run manager and the `/v1/runs` router, and the CLI's
 * `coop run` command and RL demo.
 */
export { runRl } from "./driver.ts";
export { runSft } from "./warmup.ts";
export { runRmPretrain } from "./rm_pretrain.ts";
export { RunManager } from "./manager.ts";
export type { StartOptions } from "./manager.ts";
export { runsRouter } from "./router.ts";
export { absolutePath, loadDriverState, saveCheckpoint } from "./checkpoint.ts";
export type { DriverState } from "./checkpoint.ts";
export { loadRunData, tasksForStep, verificationPairs } from "./data.ts";
export type { RunData, VerificationPair } from "./data.ts";
export { emptyAccounting, formatExample, isDue } from "./job.ts";
export type { HeldOutExample, JobContext, MetricPoint, RunEvent, RunState, RunStatus } from "./job.ts";
export { LEARNER_FAULT_TOLERANCE, modelSpec, ROLE_FAULT_TOLERANCE, spawnRoles } from "./roles.ts";
export type { RunRoles } from "./roles.ts";
export { evaluate, meanRmReward, produceBatch, split, verificationAccuracy } from "./rollouts.ts";
export type { EvalResult, ProduceOptions, ScoredBatch } from "./rollouts.ts";
export { ApiClient, follow, runCommand, shownMetrics } from "./cli.ts";
export { movingAverage, resultsTable, runRlDemo, summarize } from "./demo.ts";
export type { ModeResult } from "./demo.ts";
