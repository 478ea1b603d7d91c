/**
 * `coop runs` against a real API over persisted runs: runs written to JetStream by one manager are recovered by
 * another (as on a new leader), served by the control API, and read by the CLI subprocess in text and JSON;
 * unknown ids and stopping an ended run exit 1 naming the run; every subcommand has --help.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { fileURLToPath } from "node:url";
import type { Cluster } from "../../actors/core/cluster.ts";
import { createApp } from "../../coordinator/api.ts";
import { emptyAccounting, type MetricPoint, type RunStatus } from "../../coordinator/run/job.ts";
import { RunManager } from "../../coordinator/run/manager.ts";
import { runsRouter } from "../../coordinator/run/router.ts";
import { RunStore } from "../../coordinator/run/store.ts";
import { parseJobConfig } from "../../rl/mod.ts";
import { connectNats } from "../../shared/nats_transport.ts";
import { startNats } from "../harness.ts";
import { EMPTY_API_DEPS } from "../../coordinator/api_test_deps.ts";

const CLI = fileURLToPath(new URL("../../coordinator/cli.ts", import.meta.url));

const deps = EMPTY_API_DEPS;

function status(id: string, state: RunStatus["state"], step: number): RunStatus {
  return {
    id,
    name: id,
    kind: "rl",
    mode: "cooper",
    state,
    step,
    steps: 10,
    policyVersion: step,
    rmVersion: 1,
    staleness: { max: 1, last: 1, highest: 1 },
    accounting: { ...emptyAccounting(), generated: 16 * step, scored: 16 * step, trained: 16 * step },
    startedAt: new Date(Date.UTC(2026, 0, step)).toISOString(),
    finishedAt: new Date(Date.UTC(2026, 0, step + 1)).toISOString(),
    notes: [`note of ${id}`],
  };
}

async function coop(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test({
  name: "coop runs - list, status, logs, stop over persisted runs",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const server = await startNats();
  const transport = await connectNats({ servers: server.url });
  let http: Deno.HttpServer | undefined;
  try {
    const config = parseJobConfig({ name: "done" });
    const writer = await RunStore.open(transport, "clitest", "coop_clitest_state");
    const points: MetricPoint[] = [1, 2, 3].map((step) => ({ step, time: step / 2, reward_mean: step / 10 }));
    await writer.save({ status: status("done-1", "finished", 3), config });
    for (const point of points) await writer.appendMetric("done-1", point);
    await writer.save({ status: status("stopped-1", "stopped", 2), config });
    // A new leader: a fresh store and manager read it all back (no run was running, so no cluster calls).
    const manager = new RunManager(null as unknown as Cluster, {
      store: await RunStore.open(transport, "clitest", "coop_clitest_state"),
    });
    deepStrictEqual(await manager.recover(), []);
    http = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen: () => {} },
      createApp(deps, { routers: { "/v1/runs": runsRouter(manager) } }).fetch,
    );
    const api = ["--api", `http://127.0.0.1:${(http.addr as Deno.NetAddr).port}`];

    const list = await coop(["runs", "list", ...api]);
    strictEqual(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split("\n");
    ok(lines[0]!.startsWith("ID") && lines[2]!.startsWith("done-1") && lines[3]!.startsWith("stopped-1"), list.stdout);
    ok(lines[2]!.includes("3/10") && lines[2]!.includes("finished"), lines[2]);
    const listJson = await coop(["runs", "list", "--json", ...api]);
    deepStrictEqual(JSON.parse(listJson.stdout).map((r: RunStatus) => r.id), ["done-1", "stopped-1"]);

    const shown = await coop(["runs", "status", "done-1", ...api]);
    strictEqual(shown.code, 0, shown.stderr);
    ok(shown.stdout.includes("trained 48") && shown.stdout.includes("note of done-1"), shown.stdout);
    strictEqual(JSON.parse((await coop(["runs", "status", "done-1", "--json", ...api])).stdout).state, "finished");

    const logs = await coop(["runs", "logs", "done-1", "-f", ...api]);
    strictEqual(logs.code, 0, logs.stderr);
    ok(logs.stdout.includes("step     3  t=1.5s  reward_mean=0.300"), logs.stdout);
    const logsJson = await coop(["runs", "logs", "done-1", "--json", ...api]);
    deepStrictEqual(logsJson.stdout.trim().split("\n").map((l) => JSON.parse(l)), points);

    const missing = await coop(["runs", "status", "nope", ...api]);
    strictEqual(missing.code, 1);
    ok(missing.stderr.includes("404") && missing.stderr.includes('"nope"'), missing.stderr);
    const conflict = await coop(["runs", "stop", "done-1", ...api]);
    strictEqual(conflict.code, 1);
    ok(conflict.stderr.includes("409") && conflict.stderr.includes('"done-1" is already finished'), conflict.stderr);
    const noId = await coop(["runs", "stop"]);
    strictEqual(noId.code, 2);
    // coop status lists the runs under the cluster table.
    const clusterStatus = await coop(["status", ...api]);
    strictEqual(clusterStatus.code, 0, clusterStatus.stderr);
    ok(/\nRuns\nID .*\n-+.*\ndone-1 /.test(clusterStatus.stdout), clusterStatus.stdout);

    // coop plot: from the API, and from the JSON lines a run writes.
    const dir = await Deno.makeTempDir({ prefix: "coop-plot-" });
    const plotted = await coop(["plot", "done-1", ...api, "--out", `${dir}/done.svg`, "--json"]);
    strictEqual(plotted.code, 0, plotted.stderr);
    deepStrictEqual(JSON.parse(plotted.stdout), { out: `${dir}/done.svg`, metrics: ["reward_mean"], points: 3 });
    const svg = await Deno.readTextFile(`${dir}/done.svg`);
    ok(svg.startsWith("<svg") && svg.includes("reward_mean"), svg.slice(0, 200));
    await Deno.writeTextFile(`${dir}/metrics.jsonl`, points.map((p) => JSON.stringify(p)).join("\n") + "\n");
    const fromFile = await coop(["plot", `${dir}/metrics.jsonl`, "--metrics", "reward_mean", "--out", `${dir}/f.svg`]);
    strictEqual(fromFile.code, 0, fromFile.stderr);
    if (await Deno.stat("/usr/bin/chromium").then(() => true, () => false)) {
      const png = await coop(["plot", "done-1", ...api, "--out", `${dir}/done.png`]);
      strictEqual(png.code, 0, png.stderr);
      deepStrictEqual([...(await Deno.readFile(`${dir}/done.png`)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    } else console.log("coop plot PNG check skipped: /usr/bin/chromium not found");
    const unknown = await coop(["plot", "done-1", ...api, "--metrics", "nope", "--out", `${dir}/n.svg`]);
    strictEqual(unknown.code, 1);
    ok(unknown.stderr.includes('no metric "nope"') && unknown.stderr.includes("reward_mean"), unknown.stderr);
    await Deno.remove(dir, { recursive: true });

    for (const sub of ["list", "status", "stop", "logs", "resume"]) {
      const help = await coop(["runs", sub, "--help"]);
      strictEqual(help.code, 0, help.stderr);
      ok(help.stdout.startsWith(`usage: coop runs ${sub}`) && help.stdout.includes("--json"), help.stdout);
    }
  } finally {
    await http?.shutdown();
    await transport.close();
    await server.stop();
  }
});
