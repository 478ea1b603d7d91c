/**
 * `coop runs list|status ID|stop ID|logs ID [-f]|resume ID`: the runs of a cluster through its control API
 * (`--api URL`, else COOP_API_URL, else http://127.0.0.1:8470; token from COOP_API_TOKEN). Every subcommand takes
 * `--help` and `--json` (machine-readable output on stdout); errors name the run and exit 1, usage errors exit 2.
 */
import { formatTable } from "../../shared/mod.ts";
import { parseArgs } from "node:util";

import { ApiClient } from "./api_client.ts";
import { formatExample, type MetricPoint, type RunStatus } from "./job.ts";

/** Metrics shown per line by `runs logs`, when present. */
const LOG_METRICS = ["reward_mean", "train_accuracy", "eval_accuracy", "rm_pair_accuracy", "loss", "staleness"];

interface Sub {
  usage: string;
  summary: string;
  needsId: boolean;
  run(client: ApiClient, id: string, flags: Flags): Promise<number>;
}

interface Flags {
  json: boolean;
  follow: boolean;
}

const SUBCOMMANDS: Record<string, Sub> = {
  list: {
    usage: "coop runs list [--api URL] [--json]",
    summary: "every run, newest first: state, step, staleness, trained samples",
    needsId: false,
    run: async (client, _id, flags) => {
      const runs = await client.runs();
      print(flags, runs, () => runsTable(runs));
      return 0;
    },
  },
  status: {
    usage: "coop runs status ID [--api URL] [--json]",
    summary: "one run: state, versions, staleness, sample accounting, checkpoint, notes",
    needsId: true,
    run: async (client, id, flags) => {
      const run = await client.run(id);
      print(flags, run, () => statusText(run));
      return 0;
    },
  },
  stop: {
    usage: "coop runs stop ID [--api URL] [--json]",
    summary: "ask a running run to stop after its current step (it checkpoints first); 409 if it already ended",
    needsId: true,
    run: async (client, id, flags) => {
      const run = await client.stopRun(id);
      print(flags, run, () => `stopping run "${run.id}" (it checkpoints after its current step)`);
      return 0;
    },
  },
  resume: {
    usage: "coop runs resume ID [--api URL] [--json]",
    summary: "continue an interrupted, stopped or failed run from its last checkpoint, under the same id",
    needsId: true,
    run: async (client, id, flags) => {
      const run = await client.resumeRun(id);
      print(
        flags,
        run,
        () => `resumed run "${run.id}" at step ${run.step}${run.checkpoint ? ` (${run.checkpoint})` : ""}`,
      );
      return 0;
    },
  },
  logs: {
    usage: "coop runs logs ID [-f|--follow] [--api URL] [--json]",
    summary: "a run's notes and metric history, one line per step; -f follows new points until the run ends",
    needsId: true,
    run: logs,
  },
};

/** Runs `coop runs …`; returns the exit code. */
export async function runsCommand(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const sub = name === undefined ? undefined : SUBCOMMANDS[name];
  if (sub === undefined) {
    const help = name === "--help" || name === "-h" || name === "help";
    (help ? console.log : console.error)(usage());
    return help ? 0 : 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      api: { type: "string" },
      json: { type: "boolean" },
      follow: { type: "boolean", short: "f" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(`usage: ${sub.usage}\n  ${sub.summary}`);
    return 0;
  }
  const id = positionals[0];
  if (sub.needsId && id === undefined) {
    console.error(`usage: ${sub.usage}`);
    return 2;
  }
  const base = values.api ?? Deno.env.get("COOP_API_URL") ?? "http://127.0.0.1:8470";
  return await sub.run(new ApiClient(base), id ?? "", { json: values.json ?? false, follow: values.follow ?? false });
}

function usage(): string {
  const lines = Object.values(SUBCOMMANDS).map((s) => `  ${s.usage}\n      ${s.summary}`);
  return `usage: coop runs <list|status|stop|logs|resume> ...\n${lines.join("\n")}`;
}

function print(flags: Flags, value: unknown, text: () => string): void {
  console.log(flags.json ? JSON.stringify(value, null, 2) : text());
}

/** The `runs list` table. */
export function runsTable(runs: RunStatus[]): string {
  if (runs.length === 0) return "no runs";
  return formatTable(
    ["ID", "KIND", "STATE", "STEP", "STALENESS", "TRAINED", "STARTED"],
    runs.map((r) => [
      r.id,
      r.mode ? `${r.kind}/${r.mode}` : r.kind,
      r.state,
      `${r.step}/${r.steps}`,
      `${r.staleness.last} (max ${r.staleness.max})`,
      String(r.accounting.trained),
      r.startedAt,
    ]),
    { align: ["left", "left", "left", "right", "right", "right", "left"] },
  );
}

/** The `runs status` text. */
export function statusText(run: RunStatus): string {
  const a = run.accounting;
  const lines = [
    `run        ${run.id} (${run.name}, ${run.kind}${run.mode ? `/${run.mode}` : ""})`,
    `state      ${run.state}${run.error ? `: ${run.error.name}: ${run.error.message}` : ""}`,
    `step       ${run.step}/${run.steps}   policy v${run.policyVersion}   RM v${run.rmVersion}`,
    `staleness  last ${run.staleness.last}, highest ${run.staleness.highest}, bound ${run.staleness.max}`,
    `samples    generated ${a.generated}, scored ${a.scored}, trained ${a.trained}, dropped-stale ${a.droppedStale}` +
    `, awaiting score ${a.awaitingScore}, awaiting training ${a.awaitingTraining}`,
    `started    ${run.startedAt}${run.finishedAt ? `   finished ${run.finishedAt}` : ""}`,
  ];
  const w = run.attestation;
  if (w !== undefined) {
    // Samples checked against the weight digests the run published; refused ones were never trained on.
    lines.push(
      `weights    ${w.checked} samples checked, ${w.rejected} refused (digest mismatch), ${w.unverified} unverified` +
        (w.lastRejection ? `; last: ${w.lastRejection}` : ""),
    );
  }
  if (run.checkpoint) lines.push(`checkpoint ${run.checkpoint}`);
  if (run.resumeCommand) lines.push(`resume     ${run.resumeCommand}`);
  for (const note of run.notes) lines.push(`note       ${note}`);
  // Shown as they were when they travelled as notes, so the command's output is unchanged.
  for (const e of run.examples ?? []) lines.push(`note       held-out example ${formatExample(e)}`);
  return lines.join("\n");
}

/** One `runs logs` line for a metric point. */
export function metricLine(point: MetricPoint): string {
  const shown = LOG_METRICS.filter((k) => Number.isFinite(point[k])).map((k) => `${k}=${point[k]!.toFixed(3)}`);
  return `step ${String(point.step).padStart(5)}  t=${point.time.toFixed(1)}s  ${shown.join("  ")}`.trimEnd();
}

async function logs(client: ApiClient, id: string, flags: Flags): Promise<number> {
  const run = await client.run(id);
  if (!flags.json) {
    for (const note of run.notes) console.log(`note: ${note}`);
    for (const e of run.examples ?? []) console.log(`note: held-out example ${formatExample(e)}`);
  }
  const show = (point: MetricPoint) => console.log(flags.json ? JSON.stringify(point) : metricLine(point));
  if (!flags.follow || run.state !== "running") {
    for (const point of await client.metrics(id)) show(point);
    if (!flags.json) console.log(`state: ${run.state}`);
    return 0;
  }
  // The stream replays the history, then follows until the run ends.
  let last = run;
  for await (const event of client.events(`/v1/runs/${encodeURIComponent(id)}/metrics`)) {
    if (event.event === "metric") show(JSON.parse(event.data) as MetricPoint);
    else if (event.event === "status") {
      last = JSON.parse(event.data) as RunStatus;
      if (last.state !== "running") break;
    }
  }
  if (!flags.json) console.log(`state: ${last.state}`);
  return 0;
}
