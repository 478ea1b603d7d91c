/**
 * `coop demo [--quick]`: the Cooper experiment end to end on a local cluster (nats-server, a coordinator and two
 * agents as separate processes). It warms up a tiny policy (SFT) and a tiny RM (VerifyRM-style BCE on a small
 * labelled set), or takes those warm-ups from the repo when they are shipped for the seed (`shipped_warmups.ts`), then
 * trains with `rule`, `static-rm` and `cooper` from the same starting point for the same number
 * of steps. The three RL runs share one config file and differ only in `mode`: nothing is tuned per mode.
 *
 * Output: a table (final held-out verifier accuracy, mean RM reward, RM pairwise accuracy on held-out verification
 * pairs, wall time), SVG plots of training reward and held-out accuracy per mode, and `results.json`/`results.md`,
 * under `docs/results/` (`docs/results/quick/` with --quick). `--runtime` runs the actor-runtime smoke demo instead.
 */
import { cpuModel, formatTable } from "../../shared/mod.ts";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { type JobConfig, parseJobConfig, type RewardMode } from "../../rl/mod.ts";
import { ConfigError, CoopError } from "../../shared/mod.ts";
import { writeLineChart } from "./plot.ts";
import { createProgress } from "./progress.ts";
import { startLocalCluster } from "../local/mod.ts";

import { shownMetrics } from "./cli.ts";
import { formatExample, type MetricPoint, type RunStatus } from "./job.ts";
import { RunManager } from "./manager.ts";
import { plannedRmSteps } from "./rm_pretrain.ts";
import {
  differingFiles,
  findShipped,
  installShippedFor,
  recordBuild,
  shippedDir,
  shipWarmup,
  type WarmupConfigs,
  warmupFingerprint,
  type WarmupResult,
} from "./shipped_warmups.ts";

const CONFIGS = fileURLToPath(new URL("../../rl/configs/", import.meta.url));
const MODES: readonly RewardMode[] = ["rule", "static-rm", "cooper"];
/**
 * The demo's agents all run on this one machine, which may be busy: a node is lost only after a minute without a
 * heartbeat (the coordinator's 5 s default lost an agent of a demo starved by a load average of 40 on 2 cores).
 */
const DEMO_NODE_TIMEOUT_MS = 60_000;
/**
 * The held-out accuracy the demo reports besides the final one: the mean of the last `LAST_K` evaluations (every
 * 10 steps, so steps 110–150 of the demo's 150). One endpoint of one seed swings by several tasks from eval to eval;
 * the mean of the last five is what the run converged to, read the same way for every mode.
 */
export const LAST_K = 5;
/** Shown beside the progress bars. */
const SHOWN = ["loss", "reward_mean", "eval_accuracy", "rm_pair_accuracy", "rm_sample_pair_accuracy", "hacking_alarm"];

/** One mode's outcome. */
export interface ModeResult {
  mode: RewardMode;
  finalAccuracy: number;
  /** Mean held-out accuracy of the last {@link LAST_K} evaluations. */
  lastKAccuracy: number;
  /** Mean σ(RM) of the training samples over the last quarter of the steps. */
  meanRmReward: number;
  rmPairAccuracy: number;
  /** The run's RM at the last evaluation on the warm-up's held-out SFT answers: pairwise and σ > ½ accuracy. */
  rmHeldoutPairAccuracy: number;
  rmHeldoutAccuracy: number;
  /** Mean within-prompt RM–verifier ranking accuracy on the fresh rollouts over the last quarter. */
  rmRankAccuracy: number;
  /** Steps that raised `hacking_alarm`. */
  alarms: number;
  wallSeconds: number;
  metrics: MetricPoint[];
  status: RunStatus;
}

/** Runs the demo; returns the exit code. */
export async function runRlDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean" },
      out: { type: "string" },
      seed: { type: "string", default: "1" },
      verbose: { type: "boolean" },
      "rebuild-warmups": { type: "boolean" },
    },
  });
  const quick = values.quick ?? false;
  const seed = parseSeed(values.seed);
  const out = values.out ?? (quick ? "docs/results/quick" : "docs/results");
  const started = performance.now();
  const configs = await demoConfigs(quick, seed);
  console.log(
    `Cooper demo${quick ? " (quick)" : ""}, seed ${seed}: starting nats-server, a coordinator and two agents ...`,
  );
  const local = await startLocalCluster({
    echo: values.verbose,
    agents: [{ nodeId: "node-a", cpus: 4 }, { nodeId: "node-b", cpus: 4 }],
    nodeTimeoutMs: DEMO_NODE_TIMEOUT_MS,
  });
  const manager = new RunManager(local.client);
  try {
    const warmup = await prepareWarmups(manager, configs, { seed, quick, rebuild: values["rebuild-warmups"] });
    const results: ModeResult[] = [];
    let heldoutTasks = 0;
    for (const mode of MODES) {
      const config = parseJobConfig({ ...configs.rlRaw, mode, name: `${configs.rlRaw.name ?? "demo"}-${mode}` });
      heldoutTasks = config.kind === "rl" ? config.eval.size : 0;
      const t0 = performance.now();
      const run = await track(manager, config);
      if (run.status.state !== "finished") throw new CoopError(`Demo run "${mode}" ${describe(run.status)}`);
      results.push(summarize(mode, run.metrics, run.status, (performance.now() - t0) / 1000));
    }
    const table = resultsTable(results);
    console.log(`\n${table}\n`);
    const seconds = (performance.now() - started) / 1000;
    await writeResults(out, results, { table, quick, seed, warmup, seconds, heldoutTasks });
    console.log(`Results, plots and metrics written to ${out}/ (total ${seconds.toFixed(0)} s)`);
    return 0;
  } finally {
    await manager.close();
    await local.stop();
  }
}

/**
 * `coop warmup [--seed N] [--quick] [--check] [--ship]`: only the demo's warm-ups, writing `runs/demo/seed-N/{sft,rm}`
 * (what the RL runs start from), then compared file by file with the shipped ones (`rl/warmups/`). Every job is
 * seeded, so on one machine a rebuild gives the same checkpoints bit for bit; another CPU may sum in another float
 * order. `--check` fails when the rebuild differs from what is shipped; `--ship` makes the rebuild the shipped one.
 */
export async function runWarmup(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean" },
      seed: { type: "string", default: "1" },
      verbose: { type: "boolean" },
      check: { type: "boolean" },
      ship: { type: "boolean" },
    },
  });
  const seed = parseSeed(values.seed);
  const quick = values.quick ?? false;
  const configs = await demoConfigs(quick, seed);
  const local = await startLocalCluster({
    echo: values.verbose,
    agents: [{ nodeId: "node-a", cpus: 4 }],
    nodeTimeoutMs: DEMO_NODE_TIMEOUT_MS,
  });
  const manager = new RunManager(local.client);
  try {
    const { log, ...result } = await runWarmups(manager, configs);
    console.log(`Warm-up checkpoints: ${configs.root}/sft/policy and ${configs.root}/rm/reward_model`);
    const dir = shippedDir({ seed, quick });
    const fingerprint = warmupFingerprint(configs);
    const built = await recordBuild(configs.root, {
      seed,
      fingerprint,
      result,
      log,
      built: { date: new Date().toISOString(), machine: machine() },
    });
    if (values.ship) {
      await shipWarmup({ built: configs.root, dir });
      console.log(`Shipped: ${dir} now holds this rebuild (commit it)`);
      return 0;
    }
    const shipped = await findShipped(dir, fingerprint);
    if (!("record" in shipped)) {
      console.log(`Nothing to compare with: ${shipped.reason}`);
      return values.check ? 1 : 0;
    }
    const differing = differingFiles(built.files, shipped.record.files);
    if (differing.length === 0) {
      console.log(`Bit for bit identical to the shipped warm-up in ${dir} (built ${shipped.record.built.date})`);
      return 0;
    }
    console.log(
      `Differs from the shipped warm-up in ${dir} (built on ${shipped.record.built.machine}): ${differing.join(", ")}` +
        `. The demo keeps using the shipped one; --ship replaces it with this rebuild.`,
    );
    return values.check ? 1 : 0;
  } finally {
    await manager.close();
    await local.stop();
  }
}

/**
 * The demo's warm-ups: the shipped ones (`rl/warmups/`) copied to where the RL configs read them when they were built
 * from these configs and their files are intact (unless `rebuild`), else built now.
 */
async function prepareWarmups(
  manager: RunManager,
  configs: WarmupConfigs & { root: string },
  options: { seed: number; quick: boolean; rebuild?: boolean },
): Promise<WarmupResult & { source: "shipped" | "built" }> {
  if (!options.rebuild) {
    const shipped = await installShippedFor(configs, options);
    if ("record" in shipped) {
      console.log(
        `Warm-up: the shipped checkpoints of seed ${options.seed} (${shipped.dir}, built ` +
          `${shipped.record.built.date.slice(0, 10)}; \`./coop warmup --seed ${options.seed}\` rebuilds and compares ` +
          `them, \`--rebuild-warmups\` builds them for this demo)`,
      );
      for (const line of shipped.record.log) console.log(`  ${line}`);
      return { ...shipped.record.result, source: "shipped" };
    }
    if (!options.quick) console.log(`Warm-up: not using shipped checkpoints: ${shipped.reason}`);
  }
  const { log: _log, ...result } = await runWarmups(manager, configs);
  return { ...result, source: "built" };
}

/**
 * SFT, then RM pretraining on the SFT policy's answers (so one after the other); their held-out numbers and the log
 * lines printed about them.
 */
async function runWarmups(manager: RunManager, configs: WarmupConfigs): Promise<WarmupResult & { log: string[] }> {
  console.log("Warm-up: policy SFT, then VerifyRM-style RM pretraining on its answers ...");
  const sft = await track(manager, configs.sft);
  const rm = sft.status.state === "finished" ? await track(manager, configs.rm) : sft;
  for (const run of [sft, rm]) {
    if (run.status.state !== "finished") {
      throw new CoopError(`Demo warm-up "${run.status.name}" ${describe(run.status)}`);
    }
  }
  // The RM's validation curve (what picks the saved RM), so the recipe can be judged from any demo log.
  const log = rm.metrics.filter((p) => Number.isFinite(p.rm_valid_pair_accuracy)).map((p) =>
    `RM step ${p.step} (restart ${p.rm_restart}): validation pairwise ${pct(p.rm_valid_pair_accuracy!)}, ` +
    `classification ${pct(p.rm_valid_accuracy!)}`
  );
  log.push(...rm.status.notes.filter((n) => n.startsWith("RM")));
  const lastRm = rm.metrics.at(-1) ?? { step: 0, time: 0 };
  const warmup: WarmupResult = {
    sftAccuracy: sft.metrics.at(-1)?.eval_accuracy ?? Number.NaN,
    rmPairAccuracy: lastRm.rm_sample_pair_accuracy ?? Number.NaN,
    rmAccuracy: lastRm.rm_accuracy ?? Number.NaN,
    rmReferencePairAccuracy: lastRm.rm_pair_accuracy ?? Number.NaN,
  };
  log.push(
    `SFT: held-out accuracy ${pct(warmup.sftAccuracy)}; RM on held-out SFT answers: pairwise ` +
      `${pct(warmup.rmPairAccuracy)}, classification ${pct(warmup.rmAccuracy)}`,
  );
  for (const line of log) console.log(`  ${line}`);
  return { ...warmup, log };
}

function parseSeed(value: string | undefined): number {
  const seed = Number(value);
  if (!Number.isInteger(seed)) throw new ConfigError(`Invalid --seed ${JSON.stringify(value)}: expected an integer`);
  return seed;
}

/**
 * The demo's configs for one seed: the seed goes into every job (sft: seed, RM: seed + 1, RL: seed, as the
 * shipped files' 1 / 2 / 1), and each seed keeps its checkpoints apart (`runs/demo/seed-N/`), so seeds can run side
 * by side. The task sets stay the same for every seed: only initialisation and sampling change.
 */
export async function demoConfigs(quick: boolean, seed: number) {
  const read = async (name: string) =>
    parseYaml(await Deno.readTextFile(`${CONFIGS}${name}`)) as Record<string, unknown>;
  const rlRaw = await read(quick ? "quick.yaml" : "demo.yaml");
  const sftRaw = await read("sft.yaml");
  const rmRaw = await read("rm_pretrain.yaml");
  const root = `runs/${quick ? "quick" : "demo"}/seed-${seed}`;
  // No mkdir here: a missing runs root still bounds the paths under it (shared/roots.ts), and every writer makes
  // its own parent dirs (checkpoints and models through `stagingDir`).
  const sub = (raw: Record<string, unknown>, key: string) => (raw[key] ?? {}) as Record<string, unknown>;
  Object.assign(sftRaw, { seed, checkpoint: { ...sub(sftRaw, "checkpoint"), dir: `${root}/sft` } });
  Object.assign(rmRaw, {
    seed: seed + 1,
    checkpoint: { ...sub(rmRaw, "checkpoint"), dir: `${root}/rm` },
    policy: { ...sub(rmRaw, "policy"), checkpoint: `${root}/sft/policy` },
  });
  if (quick) {
    // The quick demo shrinks the warm-ups too.
    Object.assign(sftRaw, { steps: 1000, eval: { interval: 0, size: 32 } });
    // One RM draw, no restarts: --quick checks the pipeline, the full demo measures the recipe.
    Object.assign(rmRaw, {
      steps: 300,
      labelledTasks: 400,
      eval: { size: 32, interval: 0 },
      validation: { ...sub(rmRaw, "validation"), restarts: 1 },
    });
  }
  Object.assign(rlRaw, {
    seed,
    checkpoint: { ...sub(rlRaw, "checkpoint"), dir: root },
    policy: { ...sub(rlRaw, "policy"), checkpoint: `${root}/sft/policy` },
    rewardModel: { ...sub(rlRaw, "rewardModel"), checkpoint: `${root}/rm/reward_model` },
    eval: { ...sub(rlRaw, "eval"), rmAnswers: `${root}/rm/heldout_answers.json` },
  });
  return { rlRaw, root, sft: parseJobConfig(sftRaw), rm: parseJobConfig(rmRaw) };
}

/** Runs one job to its end with a progress bar; its final status and metrics. */
export async function track(
  manager: RunManager,
  config: JobConfig,
): Promise<{ status: RunStatus; metrics: MetricPoint[] }> {
  const label = config.kind === "rl" ? `${config.mode} (GRPO)` : config.kind;
  const total = config.kind === "rm-pretrain" ? plannedRmSteps(config) : config.steps;
  const progress = createProgress({ total, label: label.padEnd(16), unit: "steps" });
  const status = manager.start(config);
  let shown = 0;
  manager.subscribe(status.id, (event) => {
    if (event.type !== "metric") return;
    progress.tick(event.point.step - shown, { metrics: shownMetrics(event.point, SHOWN) });
    shown = event.point.step;
  });
  const final = await manager.wait(status.id);
  progress.done();
  return { status: final, metrics: manager.metrics(status.id) };
}

/** The table row of one mode. */
export function summarize(
  mode: RewardMode,
  metrics: MetricPoint[],
  status: RunStatus,
  wallSeconds: number,
): ModeResult {
  const evals = metrics.filter((p) => Number.isFinite(p.eval_accuracy));
  const lastK = evals.slice(-LAST_K).map((p) => p.eval_accuracy!);
  const tail = metrics.filter((p) => p.step > 0).slice(-Math.max(1, Math.ceil(metrics.length / 4)));
  const tailMean = (key: string) => {
    const values = tail.map((p) => p[key]).filter((v): v is number => Number.isFinite(v));
    return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
  };
  return {
    mode,
    finalAccuracy: evals.at(-1)?.eval_accuracy ?? Number.NaN,
    lastKAccuracy: lastK.length === 0 ? Number.NaN : lastK.reduce((a, b) => a + b, 0) / lastK.length,
    meanRmReward: tailMean("rm_reward_mean"),
    rmPairAccuracy: evals.at(-1)?.rm_pair_accuracy ?? Number.NaN,
    rmHeldoutPairAccuracy: evals.at(-1)?.rm_heldout_pair_accuracy ?? Number.NaN,
    rmHeldoutAccuracy: evals.at(-1)?.rm_heldout_accuracy ?? Number.NaN,
    rmRankAccuracy: tailMean("rm_sample_rank_accuracy"),
    alarms: metrics.filter((p) => p.hacking_alarm === 1).length,
    wallSeconds,
    metrics,
    status,
  };
}

/** The results table as text. */
export function resultsTable(results: readonly ModeResult[]): string {
  return formatTable(
    [
      "mode",
      "held-out accuracy",
      `last ${LAST_K} evals`,
      "mean RM reward",
      "RM pairwise acc (held-out)",
      "RM on held-out SFT answers",
      "RM rank acc (rollouts)",
      "hacking alarms",
      "wall time",
    ],
    results.map((r) => [
      r.mode,
      pct(r.finalAccuracy),
      pct(r.lastKAccuracy),
      r.meanRmReward.toFixed(3),
      pct(r.rmPairAccuracy),
      `${pct(r.rmHeldoutPairAccuracy)} / ${pct(r.rmHeldoutAccuracy)}`,
      pct(r.rmRankAccuracy),
      String(r.alarms),
      `${r.wallSeconds.toFixed(0)} s`,
    ]),
    { align: ["left", "right", "right", "right", "right", "right", "right", "right", "right"] },
  );
}

/** What the results files say besides the per-mode results. */
interface ResultsInfo {
  table: string;
  quick: boolean;
  seed: number;
  warmup: WarmupResult & { source: "shipped" | "built" };
  seconds: number;
  /** Held-out tasks per evaluation (one task is 100 / n points). */
  heldoutTasks: number;
}

async function writeResults(dir: string, results: readonly ModeResult[], info: ResultsInfo): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await writePlots(dir, results);
  const json = resultsJson(results, info);
  await Deno.writeTextFile(`${dir}/results.json`, JSON.stringify(json, null, 1) + "\n");
  await Deno.writeTextFile(`${dir}/results.md`, resultsMarkdown(results, info, json));
}

/** The demo's four SVG plots, one series per mode. */
async function writePlots(dir: string, results: readonly ModeResult[]): Promise<void> {
  const series = (key: string) =>
    results.map((r) => ({
      name: r.mode,
      points: r.metrics.filter((p) => Number.isFinite(p[key])).map((p) => [p.step, p[key]!] as [number, number]),
    }));
  await writeLineChart(`${dir}/training_reward.svg`, {
    title: "Training reward (10-step moving average)",
    xLabel: "step",
    yLabel: "reward (rule: verifier 0/1, RM modes: σ(RM))",
    series: series("reward_mean").map((s) => ({ ...s, points: movingAverage(s.points, 10) })),
  });
  await writeLineChart(`${dir}/heldout_accuracy.svg`, {
    title: "Held-out verifier accuracy (greedy)",
    xLabel: "step",
    yLabel: "accuracy",
    series: series("eval_accuracy"),
    yDomain: [0, 1],
  });
  await writeLineChart(`${dir}/rm_reward.svg`, {
    title: "Mean σ(RM) of training samples",
    xLabel: "step",
    yLabel: "σ(RM)",
    series: series("rm_reward_mean"),
  });
  await writeLineChart(`${dir}/rm_sample_agreement.svg`, {
    title: "RM vs verifier on the training samples (10-step moving average)",
    xLabel: "step",
    yLabel: "within-prompt ranking accuracy",
    series: series("rm_sample_rank_accuracy").map((s) => ({ ...s, points: movingAverage(s.points, 10) })),
    yDomain: [0, 1],
  });
}

/** `results.json`: the run's setting, the warm-up numbers, and per mode its summary, accounting and curve. */
function resultsJson(results: readonly ModeResult[], info: ResultsInfo) {
  return {
    seed: info.seed,
    quick: info.quick,
    date: new Date().toISOString(),
    machine: machine(),
    totalSeconds: info.seconds,
    heldout_tasks: info.heldoutTasks,
    warmup: {
      sft_accuracy: info.warmup.sftAccuracy,
      rm_pair_accuracy: info.warmup.rmPairAccuracy,
      rm_accuracy: info.warmup.rmAccuracy,
      rm_reference_pair_accuracy: info.warmup.rmReferencePairAccuracy,
      source: info.warmup.source,
    },
    modes: Object.fromEntries(results.map((r) => [r.mode, {
      heldout_accuracy: r.finalAccuracy,
      heldout_accuracy_last_k: r.lastKAccuracy,
      heldout_last_k: LAST_K,
      mean_rm_reward: r.meanRmReward,
      rm_pair_accuracy: r.rmPairAccuracy,
      rm_heldout_pair_accuracy: r.rmHeldoutPairAccuracy,
      rm_heldout_accuracy: r.rmHeldoutAccuracy,
      rm_rank_accuracy: r.rmRankAccuracy,
      hacking_alarms: r.alarms,
      wall_seconds: r.wallSeconds,
      accounting: r.status.accounting,
      monitor: r.status.monitor,
      examples: examplesOf(r.status),
      exploits: exploitsOf(r.status),
      curve: r.metrics,
    }])),
  };
}

/** `results.md`: the table, the plots and the last step's held-out answers. */
function resultsMarkdown(
  results: readonly ModeResult[],
  info: ResultsInfo,
  json: { date: string; machine: string },
): string {
  return [
    `# Cooper demo results${info.quick ? " (--quick)" : ""}`,
    "",
    `Generated by \`./coop demo${info.quick ? " --quick" : ""} --seed ${info.seed}\` on ${json.date} in ` +
    `${info.seconds.toFixed(0)} s (${json.machine}).`,
    `Warm-up (${info.warmup.source === "shipped" ? "the shipped checkpoints, rl/warmups/" : "built in this run"}): ` +
    `SFT held-out accuracy ${pct(info.warmup.sftAccuracy)}; pretrained RM on held-out SFT answers: ` +
    `pairwise ${pct(info.warmup.rmPairAccuracy)}, classification ${pct(info.warmup.rmAccuracy)}; on ` +
    `(solution, rewrite) pairs ${pct(info.warmup.rmReferencePairAccuracy)}.`,
    "",
    "```",
    info.table,
    "```",
    "",
    "![training reward](training_reward.svg)",
    "![held-out accuracy](heldout_accuracy.svg)",
    "![RM reward](rm_reward.svg)",
    "![RM vs verifier on training samples](rm_sample_agreement.svg)",
    "",
    "Greedy held-out answers at the last step (the first few of the held-out set):",
    "",
    ...results.flatMap((r) => [`- \`${r.mode}\``, ...examplesOf(r.status).map((e) => `  - ${e}`)]),
    "",
    "Training rollouts the RM rewarded (σ > ½) and the verifier rejected, the highest-paid of each of the last steps",
    "that had one (what a policy hacking the RM is paid for):",
    "",
    ...results.flatMap((r) => [`- \`${r.mode}\``, ...exploitsOf(r.status).map((e) => `  - ${e}`)]),
    "",
  ].join("\n");
}

function examplesOf(status: RunStatus): string[] {
  return (status.examples ?? []).map(formatExample);
}

function exploitsOf(status: RunStatus): string[] {
  return (status.exploits ?? []).map((e) => `step ${e.step} ${formatExample(e)}`);
}

/** Trailing moving average over `window` points (the per-step reward of 32 samples is noisy). */
export function movingAverage(points: readonly [number, number][], window: number): [number, number][] {
  return points.map(([x], i) => {
    const slice = points.slice(Math.max(0, i - window + 1), i + 1);
    return [x, slice.reduce((a, [, y]) => a + y, 0) / slice.length];
  });
}

/** The machine the numbers come from (CPU model and count), for the results files. */
function machine(): string {
  return `${navigator.hardwareConcurrency} × ${cpuModel()}`;
}

function pct(value: number): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(1)}%` : "-";
}

function describe(status: RunStatus): string {
  return status.state === "failed"
    ? `failed: ${status.error?.name}: ${status.error?.message}`
    : `ended ${status.state}`;
}
