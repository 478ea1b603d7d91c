/**
 * The demo's warm-up checkpoints shipped in the repo (`rl/warmups/demo/seed-N/`), so `coop demo` spends its minutes on
 * the three RL runs rather than on SFT and RM pretraining (about 6 of the demo's 12 minutes on the 2-core machine).
 *
 * A shipped warm-up is used only when it is what `coop warmup --seed N` would build now: its record (`warmup.json`)
 * holds the fingerprint of the two warm-up configs it was built from and the SHA-256 of every shipped file, and both
 * are checked before a single file is copied. The fingerprint covers the configs, not the engine's code: whether a
 * rebuild still gives the same bytes is what `coop warmup --seed N` reports (it rebuilds and compares, file by file),
 * and `--ship` replaces the shipped files with the rebuild.
 *
 * Shipped: the two models (weights, `config.json`, `generation_config.json`) and the RM's held-out SFT answers; not
 * the optimizer state (twice the weights' bytes, and RL starts a fresh optimizer).
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { JobConfig } from "../../rl/mod.ts";
import { digestFile, type Manifest, verifyFiles, writeCheckpoint, writeFileAtomic } from "./checkpoint_files.ts";

/** Where the shipped warm-ups live: `<root>/<demo|quick>/seed-N/`. */
export const SHIPPED_WARMUPS = fileURLToPath(new URL("../../rl/warmups/", import.meta.url));

/** The model directories a warm-up ships, relative to its root (`runs/demo/seed-N`). */
const MODEL_DIRS = ["sft/policy", "rm/reward_model"] as const;
/** What is shipped of each model directory (the files that exist of these). */
const MODEL_FILES = ["config.json", "generation_config.json", "model.safetensors"] as const;
/** Shipped beside the models. */
const OTHER_FILES = ["rm/heldout_answers.json"] as const;
const RECORD = "warmup.json";

/** The warm-ups' held-out numbers. */
export interface WarmupResult {
  sftAccuracy: number;
  /** (correct, wrong) SFT-policy answers of one held-out prompt ordered right. */
  rmPairAccuracy: number;
  /** σ(RM) > ½ against the verdict on held-out SFT-policy answers. */
  rmAccuracy: number;
  /** (worked solution, verified wrong rewrite) held-out pairs. */
  rmReferencePairAccuracy: number;
}

/** `warmup.json`: what a shipped warm-up was built from and what it holds. */
export interface ShippedRecord {
  format: 1;
  seed: number;
  /** {@link warmupFingerprint} of the configs it was built from. */
  fingerprint: string;
  /** The warm-ups' held-out numbers, as the demo reports them. */
  result: WarmupResult;
  /** The RM's validation log (what picked the saved RM), printed again when the shipped RM is used. */
  log: string[];
  /** Size and SHA-256 of every shipped file, by path relative to the warm-up root (a checkpoint manifest's entries). */
  files: Manifest["files"];
  built: { date: string; machine: string };
}

/** The two warm-up configs of one seed. */
export interface WarmupConfigs {
  sft: JobConfig;
  rm: JobConfig;
}

/** SHA-256 over the two parsed configs (keys sorted), so any setting that shapes a warm-up changes it. */
export function warmupFingerprint(configs: WarmupConfigs): string {
  return createHash("sha256").update(canonicalJson({ sft: configs.sft, rm: configs.rm })).digest("hex");
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => a < b ? -1 : 1);
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The shipped warm-up dir of a seed. */
export function shippedDir(options: { seed: number; quick: boolean; root?: string }): string {
  return join(options.root ?? SHIPPED_WARMUPS, options.quick ? "quick" : "demo", `seed-${options.seed}`);
}

/** A shipped warm-up that can be used, or why not. */
export type ShippedLookup = { record: ShippedRecord; dir: string } | { reason: string };

/** The shipped warm-up in `dir` if it was built from `fingerprint` and every file matches its SHA-256. */
export async function findShipped(dir: string, fingerprint: string): Promise<ShippedLookup> {
  let record: ShippedRecord;
  try {
    record = JSON.parse(await Deno.readTextFile(join(dir, RECORD)));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { reason: `none shipped in ${dir}` };
    return { reason: `${join(dir, RECORD)} is unreadable: ${(error as Error).message}` };
  }
  if (record?.format !== 1 || typeof record.files !== "object" || record.files === null) {
    return { reason: `${join(dir, RECORD)} is not a format-1 warm-up record` };
  }
  if (record.fingerprint !== fingerprint) {
    return { reason: `the shipped one in ${dir} was built from other warm-up configs (sft.yaml / rm_pretrain.yaml)` };
  }
  try {
    await verifyFiles(dir, record.files);
  } catch (error) {
    return { reason: (error as Error).message };
  }
  return { record, dir };
}

/**
 * Copies a shipped warm-up into `target` (`runs/demo/seed-N`), where the RL configs read it: each model directory
 * sealed and renamed into place like a saved model, so a crash never leaves half a model there.
 */
export async function installShipped(dir: string, record: ShippedRecord, target: string): Promise<void> {
  for (const model of MODEL_DIRS) {
    await writeCheckpoint(join(target, model), async (staging) => {
      for (const file of Object.keys(record.files).filter((f) => dirname(f) === model)) {
        await Deno.copyFile(join(dir, file), join(staging, file.slice(model.length + 1)));
      }
    });
  }
  for (const file of OTHER_FILES) await writeFileAtomic(join(target, file), await Deno.readFile(join(dir, file)));
}

/**
 * Installs the shipped warm-up of a seed into `configs.root` when one was built from these configs and every file
 * matches; otherwise installs nothing and says why (the demo and the Cooper sweep then build or use what is there).
 */
export async function installShippedFor(
  configs: WarmupConfigs & { root: string },
  options: { seed: number; quick: boolean },
): Promise<ShippedLookup> {
  const shipped = await findShipped(shippedDir(options), warmupFingerprint(configs));
  if ("record" in shipped) await installShipped(shipped.dir, shipped.record, configs.root);
  return shipped;
}

/** The files of a built warm-up in `built` that would be shipped, with their size and SHA-256. */
async function builtFiles(built: string): Promise<Manifest["files"]> {
  const files: Manifest["files"] = {};
  const candidates = [...MODEL_DIRS.flatMap((m) => MODEL_FILES.map((f) => `${m}/${f}`)), ...OTHER_FILES];
  for (const file of candidates) {
    const entry = await digestFile(join(built, file)).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
    if (entry !== undefined) files[file] = entry;
  }
  return files;
}

/** The files whose bytes differ between a built warm-up and a shipped record (or exist in only one). */
export function differingFiles(built: Manifest["files"], shipped: Manifest["files"]): string[] {
  return [...new Set([...Object.keys(built), ...Object.keys(shipped)])]
    .filter((f) => built[f]?.sha256 !== shipped[f]?.sha256 || built[f]?.bytes !== shipped[f]?.bytes).sort();
}

/**
 * Writes the record of the warm-up just built in `built` (`runs/demo/seed-N/warmup.json`): what `--ship` copies and
 * what a later rebuild is compared with.
 */
export async function recordBuild(
  built: string,
  record: Omit<ShippedRecord, "files" | "format">,
): Promise<ShippedRecord> {
  const full: ShippedRecord = { format: 1, ...record, files: await builtFiles(built) };
  await writeFileAtomic(join(built, RECORD), JSON.stringify(full, null, 1) + "\n");
  return full;
}

/** Replaces the shipped warm-up in `dir` with the one built (and recorded) in `built`. */
export async function shipWarmup(options: { built: string; dir: string }): Promise<ShippedRecord> {
  const record: ShippedRecord = JSON.parse(await Deno.readTextFile(join(options.built, RECORD)));
  await Deno.remove(options.dir, { recursive: true }).catch(() => {});
  for (const file of [...Object.keys(record.files), RECORD]) {
    await Deno.mkdir(dirname(join(options.dir, file)), { recursive: true });
    await Deno.copyFile(join(options.built, file), join(options.dir, file));
  }
  return record;
}
