/**
 * `coop run CONFIG`: validates the config locally with `--set` overrides applied (errors name the field), submits it
 * to a cluster's control API (`--api URL` or `COOP_API_URL`; with `--local` or without either, an embedded cluster is
 * started for the run and stopped after), then follows the run's server-sent metrics with a progress bar. Ctrl-C
 * asks the run to stop (it checkpoints first).
 */
import { parseArgs } from "node:util";
import { parseJobConfig } from "../../rl/mod.ts";
import { ConfigError } from "../../shared/mod.ts";
import { createProgress, type Progress } from "./progress.ts";
import { freePort, type LocalCluster, startLocalCluster } from "../local/mod.ts";
import { ApiClient } from "./api_client.ts";
import type { MetricPoint, RunStatus } from "./job.ts";
import { applyOverrides, parseOverride, readConfigObject } from "./overrides.ts";

export { ApiClient };

/** Shown beside the bar, when present in a metric point. */
const SHOWN = [
  "loss",
  "reward_mean",
  "train_accuracy",
  "eval_accuracy",
  "rm_pair_accuracy",
  "staleness",
  "hacking_alarm",
];

const USAGE = `usage: coop run CONFIG [options]

Validates CONFIG (YAML or JSON; errors name the field), submits it and follows the run with a progress bar.
Ctrl-C asks the run to stop (it checkpoints first).

options:
  --local             start an embedded cluster for the run (nats-server, coordinator, one agent), stopped after;
                      the default when neither --api nor COOP_API_URL is given
  --api URL           submit to this cluster's control API (or COOP_API_URL)
  --set a.b=c         override a config field (repeatable); the value is JSON when it parses, e.g.
                      --set steps=2 --set grpo.lr=1e-6 --set policy.checkpoint=models/qwen
  --dry-run           print the resolved config (defaults filled in, overrides applied) and exit
  --resume DIR        continue from a checkpoint step directory
  --detach            print the run id and return instead of following it
  --cpus N            logical CPUs of the local agent (default 8)
  -h, --help          this text`;

/** Runs `coop run`; returns the exit code. */
export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      api: { type: "string" },
      local: { type: "boolean" },
      set: { type: "string", multiple: true },
      "dry-run": { type: "boolean" },
      resume: { type: "string" },
      detach: { type: "boolean" },
      cpus: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const path = positionals[0];
  if (path === undefined || positionals.length > 1) {
    console.error(USAGE);
    return 2;
  }
  if (values.local && values.api !== undefined) {
    throw new ConfigError("Invalid options: --local starts its own cluster, so it cannot be combined with --api");
  }
  const raw = applyOverrides(await readConfigObject(path), (values.set ?? []).map(parseOverride));
  const config = parseJobConfig(raw);
  if (values["dry-run"]) {
    console.log(JSON.stringify(config, null, 2));
    return 0;
  }
  let local: LocalCluster | undefined;
  let base = values.local ? undefined : values.api ?? Deno.env.get("COOP_API_URL");
  if (base === undefined) {
    const apiPort = freePort();
    console.error("coop run: starting a local cluster (nats-server, coordinator, one agent) ...");
    local = await startLocalCluster({
      apiPort,
      agents: [{ nodeId: "local", cpus: parseCpus(values.cpus) }],
      env: localRoots(),
    });
    base = `http://127.0.0.1:${apiPort}`;
  }
  try {
    const client = new ApiClient(base.replace(/\/$/, ""));
    const { run } = await client.post<{ run: RunStatus }>("/v1/runs", { config: raw, resume: values.resume });
    console.error(`coop run: started run "${run.id}" (${config.kind}${run.mode ? `, ${run.mode}` : ""})`);
    if (values.detach) {
      console.log(run.id);
      return 0;
    }
    const stop = () => void client.post(`/v1/runs/${run.id}/stop`, {}).catch(() => {});
    Deno.addSignalListener("SIGINT", stop);
    try {
      const final = await follow(client, run);
      console.log(JSON.stringify(final, null, 2));
      return final.state === "finished" ? 0 : 1;
    } finally {
      Deno.removeSignalListener("SIGINT", stop);
    }
  } finally {
    await local?.stop();
  }
}

/** Follows a run's SSE stream with a progress bar; resolves with the final status. */
export async function follow(client: ApiClient, run: RunStatus, progress?: Progress): Promise<RunStatus> {
  const bar = progress ??
    createProgress({ total: run.steps, label: `${run.name}${run.mode ? ` ${run.mode}` : ""}`, unit: "steps" });
  let last = run;
  let shown = 0;
  for await (const event of client.events(`/v1/runs/${run.id}/metrics`)) {
    if (event.event === "metric") {
      const point = JSON.parse(event.data) as MetricPoint;
      bar.tick(point.step - shown, { metrics: shownMetrics(point, SHOWN) });
      shown = point.step;
    } else if (event.event === "status") {
      last = JSON.parse(event.data) as RunStatus;
      if (last.state !== "running") break;
    }
  }
  bar.done();
  if (last.state === "running") last = (await client.get<{ run: RunStatus }>(`/v1/runs/${run.id}`)).run;
  return last;
}

/** The finite metrics of `point` named in `keys`, rounded for a progress bar. */
export function shownMetrics(point: MetricPoint, keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of keys) if (Number.isFinite(point[key])) out[key] = Number(point[key]!.toFixed(3));
  return out;
}

function parseCpus(value: string | undefined): number {
  if (value === undefined) return 8;
  const cpus = Number(value);
  if (!Number.isFinite(cpus) || cpus <= 0) {
    throw new ConfigError(`Invalid --cpus "${value}": expected a positive number`);
  }
  return cpus;
}

/**
 * Roots for an embedded cluster: its API listens on loopback for this user only, so run configs may name any path
 * under the current directory (the repository's sample data and models included) unless `COOP_ROOTS_*` says otherwise.
 */
function localRoots(): Record<string, string> {
  const cwd = Deno.cwd();
  const roots: Record<string, string> = {};
  for (const kind of ["DATA", "MODELS", "RUNS"]) {
    const name = `COOP_ROOTS_${kind}`;
    roots[name] = Deno.env.get(name) ?? cwd;
  }
  return roots;
}
