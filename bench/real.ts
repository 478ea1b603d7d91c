/**
 * `./coop bench real [--size 0.5b|mid|small] [--steps N] [--no-torch] [--learner-only]` (`--cluster [--config C] [--steps N]`: the
 * whole 0.5B cooper run with `--local`, see bench/real_cluster.ts): a Qwen2.5-0.5B-shaped model (random weights,
 * the real 151,669-token Qwen vocabulary) in each role of a Cooper step, each role in its own process so its peak
 * RSS is its own: learner (training step 2x128: loss, backward, clipping, AdamW), rollout (2 x 32 new tokens after
 * 64-token prompts) and reference / reward-model forward (2x128). Next to each, the same work in PyTorch eager CPU
 * (transformers) measured in the same run by bench/torch_step.py, when torch is importable. Prints a table and
 * writes bench/out/real.json (`--learner-only`: just the learner and PyTorch's training step, which replace those
 * entries of the last full run's file). Every job records the 1-minute load average before and after it (`load`): the machine
 * is shared, and PyTorch's threads suffer more from oversubscription than onnxruntime's.
 */
import { fileURLToPath } from "node:url";
import { BENCH_OUT_DIR, printTable, writeBenchJson } from "./report.ts";
import { REAL_BATCH } from "./real_role.ts";
import { REAL_SHAPES, type RealSize } from "./real_shapes.ts";
import { parameterCount } from "../engine/models/params.ts";
import { realConfig } from "./real_shapes.ts";

const ROLE_SCRIPT = fileURLToPath(new URL("./real_role.ts", import.meta.url));
const TORCH_SCRIPT = fileURLToPath(new URL("./torch_step.py", import.meta.url));

type Json = Record<string, unknown>;

async function runJson(cmd: string, args: string[]): Promise<Json> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  const last = text.split("\n").at(-1) ?? "";
  if (!out.success || !last.startsWith("{")) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
    throw new Error(`${cmd} ${args.join(" ").slice(0, 80)} failed (exit ${out.code}): ${err}`);
  }
  return JSON.parse(last);
}

/** Why the torch column is skipped, or null when `import torch, transformers` works. */
export async function torchUnavailable(): Promise<string | null> {
  try {
    const out = await new Deno.Command("python3", {
      args: ["-c", "import torch, transformers"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) return null;
    return new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "import failed";
  } catch (e) {
    return `python3 not runnable: ${(e as Error).message}`;
  }
}

/** Runs one PyTorch job (see bench/torch_step.py). */
export function torchJob(job: Json): Promise<Json> {
  return runJson("python3", [TORCH_SCRIPT, JSON.stringify(job)]);
}

/** Prints a finished job's raw result at once, so a later failure does not lose it. */
function report(what: string, result: Json): Json {
  console.log(`bench real: ${what} ${JSON.stringify(result)}`);
  return result;
}

/** Runs a job and adds the 1-minute load average before and after it. */
async function withLoad(job: () => Promise<Json>): Promise<Json> {
  const before = Deno.loadavg()[0]!;
  const result = await job();
  return { ...result, load: [before, Deno.loadavg()[0]!] };
}

function runRole(name: string, size: RealSize, steps: number): Promise<Json> {
  return withLoad(() => runJson(Deno.execPath(), ["run", "-A", ROLE_SCRIPT, name, size, String(steps)]));
}

const min = (xs: unknown) => Math.min(...(xs as number[]));
const loads = (xs: unknown) => (xs as number[] | undefined)?.map((x) => x.toFixed(1)).join(" / ");

/** The value after flag `name` in `args`, if any. */
function flagValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** What every role and PyTorch job of one run measured. */
interface RealRun {
  learner: Json;
  rollout: Json;
  reference: Json;
  reference16: Json;
  torchTrain: Json | null;
  torchGen: Json | null;
  torchFwd: Json | null;
  torchErrors: string[];
}

/** Runs the roles and the PyTorch jobs, one process at a time (the 0.5B learner alone needs ~9 GiB). */
async function measure(size: RealSize, steps: number, skip: string | null, learnerOnly: boolean): Promise<RealRun> {
  const config = REAL_SHAPES[size];
  const { batch, seq, prompt, newTokens } = REAL_BATCH;
  const torchErrors: string[] = [];
  // A PyTorch job that fails (e.g. killed for memory on a shared machine) leaves its column empty, with the reason.
  const torch = async (job: Json): Promise<Json | null> => {
    if (skip) return null;
    try {
      return report("torch", await withLoad(() => torchJob({ config, threads: 2, ...job })));
    } catch (e) {
      torchErrors.push((e as Error).message.slice(0, 300));
      console.log(`bench real: PyTorch job failed: ${(e as Error).message.slice(0, 300)}`);
      return null;
    }
  };
  const role = async (name: string) =>
    learnerOnly && name !== "learner" ? {} : report(name, await runRole(name, size, steps));
  const learner = await role("learner");
  const torchTrain = await torch({ train: { batch, seq, steps, lr: 1e-4, weight_decay: 0.01, max_grad_norm: 1 } });
  const rollout = await role("rollout");
  const torchGen = learnerOnly ? null : await torch({ generate: { batch, prompt, new_tokens: newTokens } });
  const reference = await role("reference");
  const torchFwd = learnerOnly ? null : await torch({ forward: { batch, seq, runs: 2 } });
  const reference16 = await role("reference16");
  return { learner, rollout, reference, reference16, torchTrain, torchGen, torchFwd, torchErrors };
}

/** The printed table: each quantity for Coop and PyTorch, with their ratio. */
function tableRows(r: RealRun): Record<string, unknown>[] {
  const { batch, seq, newTokens } = REAL_BATCH;
  const { learner, rollout, reference, reference16, torchTrain, torchGen, torchFwd } = r;
  const learnerStep = min(learner.stepS);
  // The parts of that fastest step, so they add up to it (the fastest graph and the fastest AdamW can be of
  // different steps: the first step's AdamW first-touches its moments).
  const best = (learner.stepS as number[]).indexOf(learnerStep);
  const partOfBest = (xs: unknown) => (xs as number[])[best];
  const torchStep = torchTrain ? min(torchTrain.train_step_s) : NaN;
  const torchFwdS = torchFwd ? min(torchFwd.forward_s) : NaN;
  return [
    { quantity: "random init / load, s", coop: learner.loadS, torch: torchTrain?.init_s },
    { quantity: `learner step ${batch}x${seq}, s`, coop: learnerStep, torch: torchStep },
    { quantity: "  of which graph (forward, backward, output copies), s", coop: partOfBest(learner.graphS) },
    { quantity: `  of which AdamW (${learner.updateThreads} threads), s`, coop: partOfBest(learner.updateS) },
    { quantity: "learner tok/s", coop: (batch * seq) / learnerStep, torch: (batch * seq) / torchStep },
    { quantity: "learner peak RSS, GiB", coop: learner.peakStep, torch: torchTrain?.peak_gib_train },
    { quantity: "load average before/after, learner", coop: loads(learner.load) },
    { quantity: "load average before/after, torch train", coop: loads(torchTrain?.load) },
    { quantity: "weight publish (encode), s", coop: learner.publishS },
    { quantity: "learner peak with publish, GiB", coop: learner.peak },
    { quantity: `rollout tok/s (${batch}x${newTokens} new)`, coop: rollout.tokS, torch: torchGen?.generate_tok_s },
    { quantity: "rollout peak RSS, GiB", coop: rollout.peak, torch: torchGen?.peak_gib_generate },
    { quantity: `reference forward ${batch}x${seq}, s`, coop: reference.forwardS, torch: torchFwdS },
    { quantity: "reference peak RSS, GiB", coop: reference.peak, torch: torchFwd?.peak_gib_forward },
    { quantity: `reference fp16 weights forward, s`, coop: reference16.forwardS, torch: torchFwdS },
    { quantity: "reference fp16 weights peak RSS, GiB", coop: reference16.peak, torch: torchFwd?.peak_gib_forward },
  ].filter((row) => row.coop !== undefined && !Number.isNaN(row.coop)).map((row) => {
    const t = row.torch as number | undefined;
    const c = row.coop as number;
    const ratio = t === undefined || !Number.isFinite(t) || typeof c !== "number" ? "-" : c / t;
    return { ...row, torch: t ?? "-", "coop/torch": ratio };
  });
}

/** Runs the suite. */
export async function runRealBench(args: readonly string[] = []): Promise<Json> {
  if (args.includes("--cluster")) {
    const { runClusterBench } = await import("./real_cluster.ts");
    await runClusterBench({
      config: flagValue(args, "--config") ?? "rl/configs/real_0_5b.json",
      steps: Number(flagValue(args, "--steps") ?? 2),
      minFreeGiB: Number(flagValue(args, "--min-free") ?? 21),
    });
    return {};
  }
  const size = (flagValue(args, "--size") ?? "0.5b") as RealSize;
  if (!(size in REAL_SHAPES)) throw new Error(`--size must be one of ${Object.keys(REAL_SHAPES).join(", ")}`);
  const steps = Number(flagValue(args, "--steps") ?? 2);
  const skip = args.includes("--no-torch") ? "--no-torch given" : await torchUnavailable();
  if (skip) console.log(`bench real: PyTorch column skipped: ${skip}`);
  const learnerOnly = args.includes("--learner-only");
  const run = await measure(size, steps, skip, learnerOnly);
  const params = parameterCount(realConfig(size));
  printTable(
    `real: Qwen2-shaped ${size} (${(params / 1e6).toFixed(0)}M params, random weights), 2 threads, float32`,
    tableRows(run),
  );
  const tokens = REAL_BATCH.batch * REAL_BATCH.seq;
  const learnerStep = min(run.learner.stepS);
  const torchStep = run.torchTrain ? min(run.torchTrain.train_step_s) : NaN;
  const result = {
    size,
    params,
    steps,
    torch_skipped: skip,
    torch_errors: run.torchErrors,
    coop: { learner: run.learner, rollout: run.rollout, reference: run.reference, reference16: run.reference16 },
    torch: { train: run.torchTrain, generate: run.torchGen, forward: run.torchFwd },
    learner_tok_s: tokens / learnerStep,
    torch_learner_tok_s: tokens / torchStep,
    learner_peak_ratio: run.torchTrain
      ? (run.learner.peakStep as number) / (run.torchTrain.peak_gib_train as number)
      : null,
    learner_step_ratio: run.torchTrain ? learnerStep / torchStep : null,
  };
  const merged = learnerOnly ? await mergedLearnerRun(result) : null;
  await writeBenchJson(merged === null ? "real" : merged.suite, merged === null ? result : merged.data);
  return result;
}

/**
 * A `--learner-only` run replaces the learner and PyTorch-training entries of the last full run's
 * bench/out/real.json and keeps its other roles, saying when each part was measured; for another size than that
 * file's it goes to bench/out/real_<size>.json instead.
 */
async function mergedLearnerRun(
  result: Json & { size: RealSize; coop: Json; torch: Json },
): Promise<{ suite: string; data: Json }> {
  let previous: Json | null = null;
  try {
    previous = JSON.parse(await Deno.readTextFile(`${BENCH_OUT_DIR}real.json`));
  } catch {
    previous = null;
  }
  if (previous === null || previous.size !== result.size) {
    return { suite: `real_${result.size.replace(".", "_")}`, data: { ...result, learner_only: true } };
  }
  const old = previous as Json & { coop: Json; torch: Json; machine?: { date?: string } };
  const data = {
    ...old,
    ...result,
    coop: { ...old.coop, learner: result.coop.learner },
    torch: { ...old.torch, train: result.torch.train },
    learner_only: true,
    other_roles_measured: old.other_roles_measured ?? old.machine?.date ?? null,
  };
  return { suite: "real", data };
}

if (import.meta.main) await runRealBench(Deno.args);
