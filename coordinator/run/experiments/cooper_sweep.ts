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
import { applyOverrides, parseOverride } from "../overrides.ts";
import { RunManager } from "../manager.ts";

/** A sweep variant: overrides of the demo's `rewardUpdate` and `monitor`. */
interface Variant {
  name: string;
  mode: RewardMode;
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
  const seed = Number(values.seed);
  const only = values.only?.split(";");
  const variants = [
    ...VARIANTS.filter((v) => only === undefined || only.includes(v.name)),
    ...(values.extra === undefined ? [] : JSON.parse(values.extra) as Variant[]),
  ];
  const { rlRaw: demoRaw } = await demoConfigs(false, seed);
  const rlRaw = applyOverrides(demoRaw, (values.set ?? []).map(parseOverride));
  const local = await startLocalCluster({ agents: [{ nodeId: "node-a", cpus: 4 }, { nodeId: "node-b", cpus: 4 }] });
  const manager = new RunManager(local.client);
  const rows: string[] = [];
  try {
    for (const v of variants) {
      const sub = (key: string) => (rlRaw[key] ?? {}) as Record<string, unknown>;
      const config = parseJobConfig({
        ...rlRaw,
        name: `sweep-${v.mode}`,
        mode: v.mode,
        steps: Number(values.steps ?? rlRaw.steps),
        rewardUpdate: { ...sub("rewardUpdate"), ...v.rewardUpdate },
        monitor: { ...sub("monitor"), ...v.monitor },
        checkpoint: { ...sub("checkpoint"), interval: 0 },
      });
      const t0 = performance.now();
      const run = await track(manager, config);
      const r = summarize(v.mode, run.metrics, run.status, (performance.now() - t0) / 1000);
      const tail = (key: string) => {
        const xs = run.metrics.slice(-25).map((p) => p[key]).filter((x): x is number => Number.isFinite(x));
        return xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
      };
      const line = {
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
        alarms: r.alarms,
        seconds: r.wallSeconds,
      };
      console.log(JSON.stringify(line));
      if (values.out !== undefined) {
        await Deno.mkdir(values.out, { recursive: true });
        const file = `${values.out}/${v.name.replace(/[^a-z0-9.-]+/gi, "_")}.json`;
        const detail = { ...line, set: values.set, exploits: run.status.exploits, curve: run.metrics };
        await Deno.writeTextFile(file, JSON.stringify(detail) + "\n");
      }
      const pct = (x: number) => (x * 100).toFixed(1);
      rows.push(
        `| ${v.name} | ${pct(line.heldout)} | ${pct(line.heldoutLastK)} | ${pct(line.trainAccuracy)} | ${
          pct(line.agreement)
        } | ${pct(line.rank)} | ${pct(line.rmPair)} | ` +
          `${line.rmReward.toFixed(2)} | ${line.alarms} | ${line.seconds.toFixed(0)} |`,
      );
    }
  } finally {
    await manager.close();
    await local.stop();
  }
  console.log(
    [
      "| variant | held-out | last 5 evals | train acc, last 25 | RM–verifier agreement, last 25 | rank acc, last 25 | RM (sol, rewrite) pairs | σ(RM), last 25 | alarms | s |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
    ].join("\n"),
  );
}

if (import.meta.main) await main();
