/**
 * `coop run CONFIG`: validates the config locally (errors name the field), submits it to a cluster's control API
 * (`--api URL` or `COOP_API_URL`; without one, a local cluster is started for the run), then follows the run's
 * server-sent metrics with a progress bar. Ctrl-C asks the run to stop (it checkpoints first).
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../../rl/mod.ts";
import { ConfigError } from "../../shared/errors.ts";
import { createProgress, type Progress } from "../../shared/progress.ts";
import { freePort, type LocalCluster, startLocalCluster } from "../local_cluster.ts";
import { ApiClient } from "./api_client.ts";
import type { MetricPoint, RunStatus } from "./job.ts";

export { ApiClient };

/** Shown beside the bar, when present in a metric point. */
const SHOWN = ["loss", "reward_mean", "train_accuracy", "eval_accuracy", "rm_pair_accuracy", "staleness"];

/** Runs `coop run`; returns the exit code. */
export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      api: { type: "string" },
      resume: { type: "string" },
      detach: { type: "boolean" },
      cpus: { type: "string" },
    },
  });
  const path = positionals[0];
  if (path === undefined) {
    console.error("usage: coop run CONFIG [--api URL] [--resume CHECKPOINT_DIR] [--detach] [--cpus N]");
    return 2;
  }
  const config = await loadConfig(path);
  const text = await Deno.readTextFile(path);
  let local: LocalCluster | undefined;
  let base = values.api ?? Deno.env.get("COOP_API_URL");
  if (base === undefined) {
    const apiPort = freePort();
    console.error("coop run: no --api given; starting a local cluster (nats-server, coordinator, one agent) ...");
    local = await startLocalCluster({
      apiPort,
      agents: [{ nodeId: "local", cpus: parseCpus(values.cpus) }],
    });
    base = `http://127.0.0.1:${apiPort}`;
  }
  try {
    const client = new ApiClient(base.replace(/\/$/, ""));
    const { run } = await client.post<{ run: RunStatus }>("/v1/runs", { config: text, resume: values.resume });
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
