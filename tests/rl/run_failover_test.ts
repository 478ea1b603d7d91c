/**
 * Durable runs across a coordinator failover: a run is driven by the leading coordinator, the leader is killed
 * (SIGKILL) with a standby up, and the new leader lists the run with its full metric history, marked
 * `interrupted` with the command that resumes it, its actors reclaimed; resuming continues from the checkpoint,
 * and stopping twice gets a 409.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { freePort, ManagedProcess, startLocalCluster } from "../../coordinator/local/mod.ts";
import { ApiClient } from "../../coordinator/run/api_client.ts";
import type { MetricPoint, RunStatus } from "../../coordinator/run/job.ts";
import { type NatsServer, startNats } from "../harness.ts";
import { CLUSTER_TEST, eventually, rootsIn, startCoordinatorProcess } from "../runtime/cluster_fixture.ts";
import { tinyRunConfig } from "./fixtures/tiny_run.ts";

const CLI = new URL("../../coordinator/cli.ts", import.meta.url).pathname;

const live = (a: { state: string }) => a.state !== "dead";

Deno.test(
  { name: "runs - a coordinator failover keeps the run, its history and no actors", ...CLUSTER_TEST },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "coop-failover-" });
    let server: NatsServer | undefined;
    const extra: ManagedProcess[] = [];
    let stopCluster = async () => {};
    try {
      server = await startNats({ maxPayload: 8 * 1024 * 1024 });
      const [port1, port2] = [freePort(), freePort()];
      const local = await startLocalCluster({
        natsUrl: server.url,
        apiPort: port1,
        cluster: "failover",
        agents: [{ nodeId: "n1", cpus: 8 }],
        env: rootsIn(dir),
      });
      stopCluster = local.stop;
      const standby = startCoordinatorProcess({
        natsUrl: server.url,
        cluster: "failover",
        apiPort: port2,
        env: rootsIn(dir),
        name: "standby",
      });
      extra.push(standby);
      await eventually(
        "the standby",
        () => Promise.resolve(standby.output.some((l) => l.includes("standing by")) || undefined),
      );

      const first = new ApiClient(`http://127.0.0.1:${port1}`);
      const { run } = await first.post<{ run: RunStatus }>("/v1/runs", { config: tinyRunConfig(dir) });
      const before = await eventually("a checkpoint and 3 steps", async () => {
        const { run: status, metrics } = await first.get<{ run: RunStatus; metrics: MetricPoint[] }>(
          `/v1/runs/${run.id}/metrics`,
        );
        return status.checkpoint !== undefined && metrics.length >= 3 ? metrics : undefined;
      }, 120_000);
      ok(
        (await local.client.actors()).filter((a) => a.name?.startsWith(`${run.id}-`) && live(a)).length >= 5,
      );

      local.coordinator.signal("SIGKILL");
      await local.coordinator.status;
      await eventually(
        "the standby to lead",
        () => Promise.resolve(standby.output.some((l) => l.includes("ready")) || undefined),
      );
      ok(
        standby.output.some((l) => l.includes(`run "${run.id}" was interrupted`)),
        standby.output.join("\n"),
      );

      const second = new ApiClient(`http://127.0.0.1:${port2}`);
      const { runs } = await second.get<{ runs: RunStatus[] }>("/v1/runs");
      const listed = runs.find((r) => r.id === run.id);
      ok(listed !== undefined, "the new leader lists the run");
      strictEqual(listed.state, "interrupted");
      strictEqual(listed.resumeCommand, `coop runs resume ${run.id}`);
      ok(listed.checkpoint !== undefined);
      const { metrics: history } = await second.get<{ metrics: MetricPoint[] }>(`/v1/runs/${run.id}/metrics`);
      ok(history.length >= before.length, `history ${history.length} ≥ ${before.length} points seen before the kill`);
      deepStrictEqual(history.slice(0, before.length), before);
      deepStrictEqual(history.map((p) => p.step), history.map((_, i) => i + 1));
      await eventually("the run's actors to be reclaimed", async () => {
        const left = (await local.client.actors()).filter((a) => a.name?.startsWith(`${run.id}-`) && live(a));
        return left.length === 0 ? true : undefined;
      });

      // Stopping an interrupted run is a conflict; resuming continues from its checkpoint.
      const conflict = await fetch(`http://127.0.0.1:${port2}/v1/runs/${run.id}/stop`, { method: "POST" });
      strictEqual(conflict.status, 409);
      ok((await conflict.json()).error.message.includes(run.id));
      // The exact command the run was marked with, through the CLI.
      const cli = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, ...listed.resumeCommand!.split(" ").slice(1), "--api", second.base, "--json"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      strictEqual(cli.code, 0, new TextDecoder().decode(cli.stderr));
      const resumed = JSON.parse(new TextDecoder().decode(cli.stdout)) as RunStatus;
      strictEqual(resumed.state, "running");
      const resumedFrom = resumed.step;
      await eventually("the resumed run to advance", async () => {
        const { run: status } = await second.get<{ run: RunStatus }>(`/v1/runs/${run.id}`);
        return status.step > resumedFrom + 1 ? true : undefined;
      }, 120_000);
      await second.post(`/v1/runs/${run.id}/stop`, {});
      const stopped = await eventually("the stop", async () => {
        const { run: status } = await second.get<{ run: RunStatus }>(`/v1/runs/${run.id}`);
        return status.state === "stopped" ? status : undefined;
      }, 60_000);
      ok(stopped.step > resumedFrom);
      const again = await fetch(`http://127.0.0.1:${port2}/v1/runs/${run.id}/stop`, { method: "POST" });
      strictEqual(again.status, 409);
      await again.body?.cancel();
      const { metrics: after } = await second.get<{ metrics: MetricPoint[] }>(`/v1/runs/${run.id}/metrics`);
      deepStrictEqual(after.map((p) => p.step), after.map((_, i) => i + 1));
      ok(after.length >= stopped.step);
    } finally {
      await Promise.all(extra.map((p) => p.stop()));
      await stopCluster();
      await server?.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
