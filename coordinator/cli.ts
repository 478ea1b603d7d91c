/**
 * The CLI behind `./coop`: a dispatch table of commands. Each command parses its own flags and returns an exit
 * code; other areas add theirs to {@link COMMANDS} with a lazy import (so `coop agent` never loads the engine).
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../shared/mod.ts";
import { createLogger } from "../shared/mod.ts";

/** A CLI command: gets the arguments after its name, returns the exit code. */
export type Command = (args: string[]) => Promise<number>;

/** Commands by name. Add yours here with a lazy `import()`. */
export const COMMANDS: Record<string, { summary: string; run: Command }> = {
  demo: {
    summary:
      "the Cooper demo on a local cluster: demo [--quick] [--seed N] [--out DIR] [--rebuild-warmups]; demo --runtime " +
      "for the actor-runtime smoke demo",
    run: async (args) =>
      args.includes("--runtime")
        ? (await import("./demo.ts")).runDemo(args.filter((a) => a !== "--runtime"))
        : (await import("./run/demo.ts")).runRlDemo(args),
  },
  warmup: {
    summary: "rebuild the demo's warm-up checkpoints (SFT policy, pretrained RM) and compare them with the shipped " +
      "ones: warmup [--seed N] [--quick] [--check] [--ship]",
    run: async (args) => (await import("./run/demo.ts")).runWarmup(args),
  },
  up: { summary: "run a coordinator (--local-nats also starts nats-server)", run: up },
  agent: { summary: "run a node agent: --nats URL --cpus N --gpus 0,1 --resource k=v --label k=v", run: agent },
  status: { summary: "print the cluster status table (--api URL)", run: status },
  creds: {
    summary: "per-role NATS credentials: creds --out DIR --cluster NAME --node n1 [--jwt] (--help)",
    run: async (args) => (await import("./creds.ts")).credsCommand(args),
  },
  run: {
    summary: "train: run CONFIG [--local | --api URL] [--set a.b=c] [--dry-run] [--resume DIR] [--detach] (--help)",
    run: async (args) => (await import("./run/cli.ts")).runCommand(args),
  },
  runs: {
    summary: "runs of a cluster: runs list|status ID|stop ID|logs ID [-f]|resume ID [--api URL] [--json] [--help]",
    run: async (args) => (await import("./run/runs_cli.ts")).runsCommand(args),
  },
  plot: {
    summary: "draw a run's curves as SVG: plot RUN_ID|metrics.jsonl [--metrics a,b] [--out FILE.svg] [--api URL]",
    run: async (args) => (await import("./run/plot_cli.ts")).plotCommand(args),
  },
  parity: {
    summary: "check the model in DIR against reference outputs: parity DIR [--no-grads] [--threads N]",
    run: async (args) => (await import("../engine/parity/mod.ts")).parityMain(args),
  },
};

function list(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)];
}

function number(flag: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new ConfigError(`Invalid --${flag} "${value}": expected a number`);
  return parsed;
}

function pairs(flag: string, values: string[], convert: (v: string) => string | number) {
  const out: Record<string, string | number> = {};
  for (const item of values) {
    const at = item.indexOf("=");
    if (at <= 0) throw new ConfigError(`Invalid --${flag} "${item}": expected name=value`);
    out[item.slice(0, at)] = convert(item.slice(at + 1));
  }
  return out;
}

async function up(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      nats: { type: "string" },
      cluster: { type: "string" },
      "api-port": { type: "string" },
      "api-host": { type: "string" },
      "node-timeout-ms": { type: "string" },
      "no-standby": { type: "boolean" },
      "lease-renew-ms": { type: "string" },
      "local-nats": { type: "boolean" },
      "nats-port": { type: "string" },
    },
  });
  const { runCoordinator } = await import("./serve.ts");
  let stopNats = async () => {};
  let nats = values.nats;
  if (values["local-nats"]) {
    const { startLocalNats } = await import("./local_cluster.ts");
    const local = await startLocalNats({ port: number("nats-port", values["nats-port"]) ?? 4222 });
    createLogger({ component: "coordinator" }).info(`started nats-server at ${local.url}`);
    nats = local.url;
    stopNats = local.stop;
  }
  try {
    return await runCoordinator({
      nats,
      cluster: values.cluster,
      apiPort: number("api-port", values["api-port"]),
      apiHost: values["api-host"],
      nodeTimeoutMs: number("node-timeout-ms", values["node-timeout-ms"]),
      standby: !values["no-standby"],
      leaseRenewMs: number("lease-renew-ms", values["lease-renew-ms"]),
    });
  } finally {
    await stopNats();
  }
}

async function agent(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      nats: { type: "string" },
      cluster: { type: "string" },
      "node-id": { type: "string" },
      cpus: { type: "string" },
      gpus: { type: "string" },
      "memory-mb": { type: "string" },
      resource: { type: "string", multiple: true },
      label: { type: "string", multiple: true },
      registry: { type: "string", multiple: true },
      "heartbeat-ms": { type: "string" },
      "echo-logs": { type: "boolean" },
    },
  });
  const gpuIds = values.gpus === undefined || values.gpus === "" ? [] : values.gpus.split(",").map((g) => {
    const id = Number(g);
    if (!Number.isInteger(id) || id < 0) {
      throw new ConfigError(`Invalid --gpus "${values.gpus}": expected ids like 0,1`);
    }
    return id;
  });
  const { runAgentProcess } = await import("./serve.ts");
  return await runAgentProcess({
    nats: values.nats,
    cluster: values.cluster,
    nodeId: values["node-id"],
    cpus: number("cpus", values.cpus),
    gpuIds,
    memoryMb: number("memory-mb", values["memory-mb"]),
    custom: pairs("resource", list(values.resource), (v) => number("resource", v)!) as Record<string, number>,
    labels: pairs("label", list(values.label), String) as Record<string, string>,
    registry: list(values.registry),
    heartbeatMs: number("heartbeat-ms", values["heartbeat-ms"]),
    echoLogs: values["echo-logs"],
  });
}

async function status(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { api: { type: "string" }, json: { type: "boolean" } } });
  const base = values.api ?? Deno.env.get("COOP_API_URL") ?? "http://127.0.0.1:8470";
  const token = Deno.env.get("COOP_API_TOKEN");
  const response = await fetch(`${base.replace(/\/$/, "")}/v1/cluster`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const body = await response.json();
  if (!response.ok) {
    console.error(`coop status: ${response.status}: ${body?.error?.message ?? JSON.stringify(body)}`);
    return 1;
  }
  // Runs, when the coordinator drives any (a coordinator without the runs API answers 404: no section).
  const runs = await fetch(`${base.replace(/\/$/, "")}/v1/runs`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  }).then((r) => (r.ok ? r.json() : { runs: [] }), () => ({ runs: [] }));
  if (values.json) {
    console.log(JSON.stringify({ ...body, runs: runs.runs }, null, 2));
  } else {
    const { formatClusterTable } = await import("./status_table.ts");
    console.log(formatClusterTable(body));
    if (runs.runs.length > 0) {
      const { runsTable } = await import("./run/runs_cli.ts");
      console.log(`\nRuns\n${runsTable(runs.runs)}`);
    }
  }
  return 0;
}

/** Runs the CLI with `args` (command first). */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const command = name === undefined ? undefined : COMMANDS[name];
  if (command === undefined) {
    console.error(`Unknown command "${name ?? ""}". Commands:`);
    for (const [key, { summary }] of Object.entries(COMMANDS)) console.error(`  ${key.padEnd(8)} ${summary}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const e = error as Error;
    console.error(
      `coop ${name}: ${e.name === "Error" || e.name === "TypeError" ? e.message : `${e.name}: ${e.message}`}`,
    );
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
