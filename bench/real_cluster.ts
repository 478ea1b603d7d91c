/**
 * `./coop bench real --cluster [--config rl/configs/real_0_5b.json] [--steps 2]`: runs `./coop run CONFIG --local`
 * (NATS, coordinator, agent and every role actor as real processes) and samples `/proc` once a second for the whole
 * process tree: each process's peak RSS (VmHWM) and the peak of their summed RSS, i.e. what the cluster held at
 * once. Actor hosts are named by the agent's `COOP_ACTOR_NAME`. Step times come from the run's metrics.jsonl.
 * Writes bench/out/real_cluster.json.
 */
import { fileURLToPath } from "node:url";
import { printTable, writeBenchJson } from "./report.ts";

const COOP = fileURLToPath(new URL("../coop", import.meta.url));
const GIB = 1024 ** 3;

/** One process of the run's tree, as last sampled. */
interface Proc {
  pid: number;
  label: string;
  peakGiB: number;
  rssGiB: number;
}

async function text(path: string): Promise<string | undefined> {
  return await Deno.readTextFile(path).catch(() => undefined);
}

/** kB field `name` of /proc/<pid>/status, in GiB. */
function statusGiB(status: string, name: string): number {
  const m = status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
  return m === null ? 0 : Number(m[1]) * 1024 / GIB;
}

/** Every descendant of `root` (and root), from the ppid field of /proc/<pid>/stat. */
async function tree(root: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await text(`/proc/${entry.name}/stat`);
    // Fields after the parenthesised command: state, ppid, ...
    const rest = stat?.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (rest !== undefined) parent.set(Number(entry.name), Number(rest[1]));
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, pp] of parent) if (pp === out[i]) out.push(pid);
  return out;
}

async function labelOf(pid: number): Promise<string> {
  const env = (await text(`/proc/${pid}/environ`)) ?? "";
  const actor = env.split("\0").find((kv) => kv.startsWith("COOP_ACTOR_NAME="));
  if (actor !== undefined) return actor.slice("COOP_ACTOR_NAME=".length).replace(/^.*?-(?=[a-z-]+$)/, "");
  const cmd = ((await text(`/proc/${pid}/cmdline`)) ?? "").split("\0").filter(Boolean);
  if (cmd.some((a) => a.includes("nats-server"))) return "nats-server";
  const sub = cmd[cmd.findIndex((a) => a.endsWith("coordinator/cli.ts")) + 1];
  if (sub === "up") return "coordinator";
  if (sub === "agent") return "agent";
  if (sub === "run") return "coop run (client)";
  return cmd.slice(0, 3).join(" ").slice(0, 60);
}

/** Samples the tree of `pid` until `done` settles; returns every process seen and the peak summed RSS. */
async function sample(pid: number, done: Promise<unknown>): Promise<{ procs: Proc[]; peakSumGiB: number }> {
  const procs = new Map<number, Proc>();
  let peakSumGiB = 0;
  let finished = false;
  done.finally(() => finished = true);
  while (!finished) {
    let sum = 0;
    for (const p of await tree(pid)) {
      const status = await text(`/proc/${p}/status`);
      if (status === undefined) continue;
      const rss = statusGiB(status, "VmRSS");
      sum += rss;
      const known = procs.get(p) ?? { pid: p, label: await labelOf(p), peakGiB: 0, rssGiB: 0 };
      known.peakGiB = Math.max(known.peakGiB, statusGiB(status, "VmHWM"));
      known.rssGiB = rss;
      procs.set(p, known);
    }
    peakSumGiB = Math.max(peakSumGiB, sum);
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { procs: [...procs.values()].filter((p) => p.peakGiB > 0.01), peakSumGiB };
}

async function memAvailableGiB(): Promise<number> {
  return statusGiB((await text("/proc/meminfo")) ?? "", "MemAvailable");
}

/** Runs the config with `--local --set steps=N`, sampling memory; prints the table, writes real_cluster.json. */
export async function runClusterBench(options: { config: string; steps: number; minFreeGiB: number }): Promise<void> {
  const available = await memAvailableGiB();
  if (available < options.minFreeGiB) {
    throw new Error(`bench real --cluster: ${available.toFixed(1)} GiB available, need ${options.minFreeGiB}`);
  }
  const config = JSON.parse(await Deno.readTextFile(options.config));
  for (const dir of [config.policy?.checkpoint, config.rewardModel?.checkpoint].filter(Boolean)) {
    if (!(await Deno.stat(`${dir}/model.safetensors`).then(() => true, () => false))) {
      throw new Error(`bench real --cluster: no ${dir}/model.safetensors; run: deno run -A bench/real_checkpoint.ts`);
    }
  }
  const logDir = config.logging?.jsonl?.dir as string | undefined;
  const t0 = performance.now();
  const child = new Deno.Command(COOP, {
    args: ["run", options.config, "--local", "--set", `steps=${options.steps}`],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const output = child.output();
  const { procs, peakSumGiB } = await sample(child.pid, output);
  const out = await output;
  const wallS = (performance.now() - t0) / 1000;
  const final = JSON.parse(new TextDecoder().decode(out.stdout).trim() || "{}");
  const metrics = logDir === undefined || final.id === undefined
    ? []
    : ((await text(`${logDir}/${final.id}/metrics.jsonl`)) ?? "").trim().split("\n").filter(Boolean).map((l) =>
      JSON.parse(l)
    );
  const rows = procs.sort((a, b) => b.peakGiB - a.peakGiB).map((p) => ({
    process: p.label,
    pid: p.pid,
    peak_gib: Number(p.peakGiB.toFixed(2)),
  }));
  const peaksSum = procs.reduce((s, p) => s + p.peakGiB, 0);
  printTable(`bench real --cluster: ${options.config}, ${options.steps} steps (${final.state ?? "failed"})`, rows);
  const steps = metrics.filter((m) => typeof m.step === "number" && m.step > 0).map((m) => ({
    step: m.step,
    rollout_s: m.rollout_ms / 1000,
    rm_update_s: m.rm_update_ms / 1000,
    policy_update_s: m.policy_update_ms / 1000,
    publish_s: m.publish_ms / 1000,
    rm_pairs: m.rm_pairs,
    loss: m.policy_loss ?? m.loss,
  }));
  if (steps.length > 0) printTable("step times", steps);
  console.log(
    `peak summed RSS ${peakSumGiB.toFixed(2)} GiB; sum of per-process peaks ${peaksSum.toFixed(2)} GiB; ` +
      `wall ${wallS.toFixed(0)} s; exit ${out.code}`,
  );
  await writeBenchJson("real_cluster", {
    suite: "real_cluster",
    config: options.config,
    steps: options.steps,
    state: final.state ?? null,
    exitCode: out.code,
    memAvailableBeforeGiB: available,
    peakSumRssGiB: peakSumGiB,
    sumOfPeaksGiB: peaksSum,
    processes: rows,
    stepTimes: steps,
    metrics,
    wallS,
  });
  if (!out.success) throw new Error(`bench real --cluster: coop run exited with ${out.code}`);
}

if (import.meta.main) {
  const arg = (name: string, fallback: string) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i < 0 ? fallback : Deno.args[i + 1]!;
  };
  await runClusterBench({
    config: arg("config", "rl/configs/real_0_5b.json"),
    steps: Number(arg("steps", "2")),
    minFreeGiB: Number(arg("min-free", "21")),
  });
}
