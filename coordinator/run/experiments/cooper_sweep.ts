/**
 * The Cooper sweep: which `rewardUpdate` / `monitor` settings let `cooper` keep up with `rule`. One seed's demo
 * warm-ups (`./coop warmup --seed N` writes them), then `rule` and `static-rm` once as baselines and `cooper` once
 * per variant, all from the same checkpoints with the demo's config (`rl/configs/demo.yaml`) and `--steps` steps;
 * a variant changes only Cooper-read settings, so the baselines are the same for every variant. One JSON line per
 * run on stdout, then a markdown table:
 *   deno run -A coordinator/run/experiments/cooper_sweep.ts --seed 3 --steps 100 [--only "name;name"]
 * `--set a.b=c` (repeatable, as `coop run --set`) changes the world for every variant alike (policy lr, steps, the
 * RM checkpoint, ...): the world sweep of docs/rl.md runs rule and static-rm under each such setting.
 */
import { parseArgs } from "node:util";
import { parseJobConfig, type RewardMode } from "../../../rl/mod.ts";
import { startLocalCluster } from "../../local/mod.ts";
import { demoConfigs, summarize, track } from "../demo.ts";
import { installShippedFor } from "../shipped_warmups.ts";
import { applyOverrides, parseOverride } from "../overrides.ts";
import { RunManager } from "../manager.ts";

/**
 * A sweep variant: overrides of the demo's `rewardUpdate` and `monitor` (and `grpo`, for controls such as
 * `verdictNoise` that one mode reads).
 */
interface Variant {
  name: string;
  mode: RewardMode;
  grpo?: Record<string, unknown>;
  rewardUpdate?: Record<string, unknown>;
  monitor?: Record<string, unknown>;
}

const VARIANTS: readonly Variant[] = [
  { name: "rule", mode: "rule" },
  { name: "static-rm", mode: "static-rm" },
  { name: "cooper (demo.yaml)", mode: "cooper" },
  { name: "negatives policy", mode: "cooper", rewardUpdate: { negatives: "policy" } },
  { name: "negatives both", mode: "cooper", rewardUpdate: { negatives: "both" } },
  { name: "anchor 1", mode: "cooper", rewardUpdate: { anchorWeight: 1 } },
  { name: "anchor 1, policy", mode: "cooper", rewardUpdate: { anchorWeight: 1, negatives: "policy" } },
  { name: "anchor 0.3, both", mode: "cooper", rewardUpdate: { anchorWeight: 0.3, negatives: "both" } },
  { name: "anchor 1, both", mode: "cooper", rewardUpdate: { anchorWeight: 1, negatives: "both" } },
  { name: "anchor 3, both", mode: "cooper", rewardUpdate: { anchorWeight: 3, negatives: "both" } },
  { name: "both, 3 neg/pos", mode: "cooper", rewardUpdate: { negatives: "both", negativesPerPositive: 3 } },
  { name: "both, replay 4", mode: "cooper", rewardUpdate: { negatives: "both", replaySteps: 4 } },
  { name: "both, lr 1e-4", mode: "cooper", rewardUpdate: { negatives: "both", lr: 1e-4 } },
  { name: "both, lr 3e-4", mode: "cooper", rewardUpdate: { negatives: "both", lr: 3e-4 } },
  { name: "both, lr 3e-4, replay 4", mode: "cooper", rewardUpdate: { negatives: "both", lr: 3e-4, replaySteps: 4 } },
  { name: "both, epochs 2", mode: "cooper", rewardUpdate: { negatives: "both", epochs: 2 } },
  { name: "rewrite, freeze", mode: "cooper", rewardUpdate: { negatives: "rewrite" }, monitor: { response: "freeze" } },
  {
    name: "rewrite, rollback",
    mode: "cooper",
    rewardUpdate: { negatives: "rewrite" },
    monitor: { response: "rollback" },
  },
  { name: "both, freeze", mode: "cooper", rewardUpdate: { negatives: "both" }, monitor: { response: "freeze" } },
  { name: "both, rollback", mode: "cooper", rewardUpdate: { negatives: "both" }, monitor: { response: "rollback" } },
];

/** New variants of this session: repaired positives (`rewardUpdate.repairs`), more pairs and a faster RM. */
const REPAIR_VARIANTS: readonly Variant[] = [
  { name: "repairs unpaired", mode: "cooper", rewardUpdate: { repairs: "unpaired" } },
  { name: "repairs all", mode: "cooper", rewardUpdate: { repairs: "all" } },
  { name: "repairs all, lr 3e-4", mode: "cooper", rewardUpdate: { repairs: "all", lr: 3e-4 } },
  { name: "repairs all, epochs 2", mode: "cooper", rewardUpdate: { repairs: "all", epochs: 2 } },
  { name: "repairs all, 3 neg/pos", mode: "cooper", rewardUpdate: { repairs: "all", negativesPerPositive: 3 } },
  { name: "3 neg/pos", mode: "cooper", rewardUpdate: { negativesPerPositive: 3 } },
  { name: "epochs 2", mode: "cooper", rewardUpdate: { epochs: 2 } },
  { name: "anchor 0.3", mode: "cooper", rewardUpdate: { anchorWeight: 0.3 } },
  { name: "freeze", mode: "cooper", monitor: { response: "freeze" } },
  { name: "rollback", mode: "cooper", monitor: { response: "rollback" } },
  { name: "rollback-once", mode: "cooper", monitor: { response: "rollback-once" } },
];

/** One run's sweep numbers (means over the last 25 steps unless named otherwise). */
type SweepLine = Record<string, unknown> & { name: string };

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seed: { type: "string", default: "3" },
      steps: { type: "string" },
      only: { type: "string" },
      set: { type: "string", multiple: true },
      out: { type: "string" }, // a directory: each run's curve and exploits as <name>.json
      extra: { type: "string" }, // a JSON Variant list, run after (or, with --only none, instead of) the built-ins
    },
  });
  const only = values.only?.split(";");
  const variants = [
    ...[...VARIANTS, ...REPAIR_VARIANTS].filter((v) => only === undefined || only.includes(v.name)),
    ...(values.extra === undefined ? [] : JSON.parse(values.extra) as Variant[]),
  ];
  const seed = Number(values.seed);
  const configs = await demoConfigs(false, seed);
  // Every variant starts from the demo's warm-ups: the shipped ones for this seed when they match, as `coop demo`.
  const shipped = await installShippedFor(configs, { seed, quick: false });
  if (!("record" in shipped)) {
    console.error(`cooper_sweep: no shipped warm-ups (${shipped.reason}); using ${configs.root} as it is`);
  }
  const demoRaw = configs.rlRaw;
  const rlRaw = applyOverrides(demoRaw, (values.set ?? []).map(parseOverride));
  const local = await startLocalCluster({ agents: [{ nodeId: "node-a", cpus: 4 }, { nodeId: "node-b", cpus: 4 }] });
  const manager = new RunManager(local.client);
  const rows: string[] = [];
  try {
    for (const v of variants) {
      const { line, detail } = await runVariant(manager, rlRaw, v, Number(values.steps ?? rlRaw.steps));
      console.log(JSON.stringify(line));
      if (values.out !== undefined) {
        await Deno.mkdir(values.out, { recursive: true });
        const file = `${values.out}/${v.name.replace(/[^a-z0-9.-]+/gi, "_")}.json`;
        await Deno.writeTextFile(file, JSON.stringify({ ...line, set: values.set, ...detail }) + "\n");
      }
      rows.push(tableRow(line));
    }
  } finally {
    await manager.close();
    await local.stop();
  }
  console.log([TABLE_HEAD, ...rows].join("\n"));
}

/** Runs one variant from the demo's config; its sweep line and (for `--out`) curve and exploits. */
async function runVariant(manager: RunManager, rlRaw: Record<string, unknown>, v: Variant, steps: number) {
  const sub = (key: string) => (rlRaw[key] ?? {}) as Record<string, unknown>;
  const config = parseJobConfig({
    ...rlRaw,
    name: `sweep-${v.mode}`,
    mode: v.mode,
    steps,
    grpo: { ...sub("grpo"), ...v.grpo },
    rewardUpdate: { ...sub("rewardUpdate"), ...v.rewardUpdate },
    monitor: { ...sub("monitor"), ...v.monitor },
    checkpoint: { ...sub("checkpoint"), interval: 0 },
  });
  const t0 = performance.now();
  const run = await track(manager, config);
  const r = summarize(v.mode, run.metrics, run.status, (performance.now() - t0) / 1000);
  const mean = (points: typeof run.metrics, key: string) => {
    const xs = points.map((p) => p[key]).filter((x): x is number => Number.isFinite(x));
    return xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  };
  const tail = (key: string) => mean(run.metrics.slice(-25), key);
  const line: SweepLine = {
    name: v.name,
    state: run.status.state,
    error: run.status.error?.message,
    heldout: r.finalAccuracy,
    heldoutLastK: r.lastKAccuracy,
    trainAccuracy: tail("train_accuracy"),
    rmPair: r.rmPairAccuracy,
    rank: r.rmRankAccuracy,
    agreement: tail("rm_sample_accuracy"),
    rmReward: r.meanRmReward,
    // The diagnosis: σ(RM) of last-digit exploits in the first and last 25 steps, their share of the samples, the
    // groups without a correct sample, and the pairs the RM trained on per step.
    exploitRewardFirst: mean(run.metrics.filter((p) => p.step > 0).slice(0, 25), "rm_reward_exploit"),
    exploitReward: tail("rm_reward_exploit"),
    exploitFraction: tail("exploit_fraction"),
    noCorrect: tail("groups_no_correct"),
    pairsTrained: tail("rm_pairs_trained"),
    alarms: r.alarms,
    seconds: r.wallSeconds,
  };
  return { line, detail: { exploits: run.status.exploits, curve: run.metrics } };
}

const TABLE_HEAD = [
  "| variant | held-out | last 5 evals | train acc | agreement | rank acc | RM (sol, rewrite) | σ(RM) | " +
  "σ(RM) exploits, first 25 / last 25 | exploit share | groups w/o correct | pairs / step | alarms | s |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
].join("\n");

/** The markdown row of one sweep line. */
function tableRow(l: SweepLine): string {
  const pct = (x: unknown) => ((x as number) * 100).toFixed(1);
  const f2 = (x: unknown) => (x as number).toFixed(2);
  return `| ${l.name} | ${pct(l.heldout)} | ${pct(l.heldoutLastK)} | ${pct(l.trainAccuracy)} | ${pct(l.agreement)} | ` +
    `${pct(l.rank)} | ${pct(l.rmPair)} | ${f2(l.rmReward)} | ${f2(l.exploitRewardFirst)} / ${f2(l.exploitReward)} | ` +
    `${pct(l.exploitFraction)} | ${pct(l.noCorrect)} | ${(l.pairsTrained as number).toFixed(0)} | ${l.alarms} | ` +
    `${(l.seconds as number).toFixed(0)} |`;
}

if (import.meta.main) await main();
