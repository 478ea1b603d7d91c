/**
 * `coop run CONFIG`: validates the config locally (errors name the field), submits it to a cluster's control API
 * (`--api URL` or `COOP_API_URL`; without one, a local cluster is started for the run), then follows the run's
 * server-sent metrics with a progress bar. Ctrl-C asks the run to stop (it checkpoints first).
 */
import { parseArgs } from "node:util";
import { loadConfig } from "../../rl/mod.ts";
import { ConfigError, CoopError, NotFoundError } from "../../shared/errors.ts";
import { createProgress, type Progress } from "../../shared/progress.ts";
import { freePort, type LocalCluster, startLocalCluster } from "../local_cluster.ts";
import type { MetricPoint, RunStatus } from "./job.ts";

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

/** A small client of the control API (bearer token from COOP_API_TOKEN). */
export class ApiClient {
  readonly base: string;
  readonly #headers: Record<string, string>;

  constructor(base: string, token = Deno.env.get("COOP_API_TOKEN")) {
    this.base = base;
    this.#headers = token ? { authorization: `Bearer ${token}` } : {};
  }

  /** GET a JSON body; throws with the API's error message on failure. */
  async get<T>(path: string): Promise<T> {
    return await this.#read<T>(path, await fetch(`${this.base}${path}`, { headers: this.#headers }));
  }

  /** POST JSON; throws with the API's error message on failure. */
  async post<T>(path: string, body: unknown): Promise<T> {
    const response = await fetch(`${this.base}${path}`, {
      method: "POST",
      headers: { ...this.#headers, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return await this.#read<T>(path, response);
  }

  /** Server-sent events of `path`. */
  async *events(path: string): AsyncGenerator<{ event: string; data: string }> {
    const response = await fetch(`${this.base}${path}`, {
      headers: { ...this.#headers, accept: "text/event-stream" },
    });
    if (!response.ok) await this.#read(path, response);
    if (response.body === null) throw new CoopError(`API stream ${path} returned no body`);
    let buffer = "";
    for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (data.length > 0) yield { event, data: data.join("\n") };
      }
    }
  }

  async #read<T>(path: string, response: Response): Promise<T> {
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const name = typeof body?.error?.name === "string" ? `${body.error.name}: ` : "";
      const message = `API request ${path} failed with ${response.status}: ${name}${
        body?.error?.message ?? `HTTP ${response.status}`
      }`;
      // The API maps NotFoundError to 404 and ConfigError (and malformed bodies) to 400; keep that class here.
      if (response.status === 404) throw new NotFoundError(message);
      if (response.status === 400) throw new ConfigError(message);
      throw new CoopError(message);
    }
    return body as T;
  }
}

function parseCpus(value: string | undefined): number {
  if (value === undefined) return 8;
  const cpus = Number(value);
  if (!Number.isFinite(cpus) || cpus <= 0) {
    throw new ConfigError(`Invalid --cpus "${value}": expected a positive number`);
  }
  return cpus;
}
