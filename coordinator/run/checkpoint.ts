/**
 * Run checkpoints: a directory holding `policy/` and `reward_model/` (HF-layout safetensors weights + config.json
 * + optimizer.safetensors, written by the learners themselves) and `driver.json` (step, versions, the sample
 * ledger, and the batches already produced for later steps). Saving the produced-ahead batches is what lets an
 * asynchronous run resume with the same next-step metrics: those samples were drawn from an older policy version
 * that a resumed run could not reproduce.
 *
 * Writes are crash-safe (checkpoint_files.ts): everything goes to a staging dir that is sealed with a SHA-256
 * manifest and renamed into place, and a resume verifies the manifest, falling back to the newest earlier good
 * `step-N` when the named checkpoint is damaged.
 */
import type { LedgerState, MonitorInput } from "../../rl/mod.ts";
import { ConfigError } from "../../shared/mod.ts";
import type { RunRoles } from "./roles.ts";
import type { ScoredBatch } from "./rollouts.ts";
import { goodCheckpoint, writeCheckpoint, writeFileAtomic } from "./checkpoint_files.ts";

/** The driver's part of a checkpoint. */
export interface DriverState {
  runId: string;
  /** First step a resumed run executes. */
  nextStep: number;
  policyVersion: number;
  rmVersion: number;
  ledger: LedgerState;
  pending: ScoredBatch[];
  trainedSamples: number;
  tokens: number;
  /** The hacking monitor's window (older checkpoints have none: the window starts empty). */
  monitor?: { history: MonitorInput[]; alarms: number; lastAgreeing?: number };
  /** Cooper's replayed pairs of the last steps (`rewardUpdate.replaySteps`). */
  replay?: { positive: string; negative: string }[][];
}

const FORMAT = 1;

/** Writes a full checkpoint into `dir`. */
export async function saveCheckpoint(
  dir: string,
  roles: Pick<RunRoles, "policyLearner" | "rewardLearner">,
  state: DriverState,
): Promise<void> {
  await writeCheckpoint(await absolutePath(dir), async (staging) => {
    await Promise.all([
      roles.policyLearner.save(`${staging}/policy`),
      roles.rewardLearner.save(`${staging}/reward_model`),
    ]);
    await writeFileAtomic(`${staging}/driver.json`, JSON.stringify({ format: FORMAT, ...state }, replacer));
  });
}

/**
 * The good checkpoint to resume from (`dir`, or the newest earlier good `step-N` beside it) and its driver state;
 * `skipped` says which checkpoints failed verification and why.
 */
export async function openCheckpoint(dir: string): Promise<{ dir: string; state: DriverState; skipped: string[] }> {
  let good: { dir: string; skipped: string[] };
  try {
    good = await goodCheckpoint(dir);
  } catch (error) {
    throw new ConfigError(`Cannot resume from "${dir}": ${(error as Error).message}`, { cause: error });
  }
  return { ...good, state: await loadDriverState(good.dir) };
}

/** `path` made absolute against the working directory: learners may run in other processes with other cwds. */
export async function absolutePath(path: string): Promise<string> {
  return path.startsWith("/") ? path : `${await Deno.realPath(".")}/${path}`;
}

/** Reads `driver.json` of a checkpoint dir. */
export async function loadDriverState(dir: string): Promise<DriverState> {
  let parsed: DriverState & { format?: number };
  try {
    parsed = JSON.parse(await Deno.readTextFile(`${dir}/driver.json`), reviver);
  } catch (error) {
    throw new ConfigError(`Cannot resume from "${dir}": ${(error as Error).message}`);
  }
  if (parsed.format !== FORMAT || !Number.isInteger(parsed.nextStep) || !Array.isArray(parsed.pending)) {
    throw new ConfigError(`Cannot resume from "${dir}": driver.json is not a Coop checkpoint (format ${FORMAT})`);
  }
  return parsed;
}

// JSON has no NaN/Infinity; RM scores may be non-finite and must survive the round trip as such.
function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) return { $num: String(value) };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === "object" && "$num" in value) return Number((value as { $num: string }).$num);
  return value;
}
