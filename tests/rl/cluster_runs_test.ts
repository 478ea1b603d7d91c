/**
 * Cooper on a real local cluster (nats-server, coordinator and agent processes, role actors in their own
 * processes): SFT warm-up, an end-to-end cooper run through the control API, the staleness bound, exact sample
 * accounting across a killed rollout actor, and resume from a checkpoint. Tiny models and few steps keep it fast.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { freePort, type LocalCluster, startLocalCluster } from "../../coordinator/local/mod.ts";
import { ApiClient, follow } from "../../coordinator/run/cli.ts";
import type { MetricPoint, RunStatus } from "../../coordinator/run/job.ts";
import { RunManager } from "../../coordinator/run/manager.ts";
import { verifyCheckpoint } from "../../coordinator/run/checkpoint_files.ts";
import { NegativeSynthesizer } from "../../actors/roles/mod.ts";
import { FakeAssistant } from "./fixtures/rewriter.ts";
import { type JobConfig, parseJobConfig, parseRunConfig, type RunConfig } from "../../rl/mod.ts";
import { type NatsServer, startNats } from "../harness.ts";
import { CLUSTER_TEST, rootsIn } from "../runtime/cluster_fixture.ts";

function rlConfig(dir: string, overrides: Record<string, unknown> = {}): RunConfig {
  return parseRunConfig({
    name: "t",
    mode: "cooper",
    seed: 3,
    steps: 4,
    maxStaleness: 1,
    data: { source: "builtin", levels: [1], size: 200 },
    eval: { interval: 0, size: 8 },
    checkpoint: { dir: `${dir}/runs`, interval: 0 },
    rollout: { count: 2, resources: { cpu: 0.5 } },
    policy: { checkpoint: `${dir}/sft/policy`, dModel: 32, nLayers: 1, nHeads: 2, dFF: 64 },
    rewardModel: { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64 },
    grpo: { samplesPerPrompt: 4, promptsPerStep: 4, maxNewTokens: 16, microBatchSize: 16 }, // "a+b=c. #### c" is 13-15 characters; a cut-off "#### " is no answer
    rewardUpdate: { lr: 1e-3 },
    ...overrides,
  });
}

async function runToEnd(manager: RunManager, config: JobConfig, resume?: string) {
  const status = manager.start(config, { resume });
  const final = await manager.wait(status.id);
  if (final.state !== "finished") throw new Error(`run ${final.state}: ${final.error?.message}`);
  return { status: final, metrics: manager.metrics(status.id) };
}

function assertExact(status: RunStatus, expected: number): void {
  const a = status.accounting;
  strictEqual(a.generated, expected);
  strictEqual(a.scored, expected);
  strictEqual(a.trained + a.droppedStale, expected);
  strictEqual(a.awaitingScore + a.awaitingTraining, 0);
}

Deno.test({ name: "cooper - runs on a local cluster", ...CLUSTER_TEST }, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "coop-rl-test-" });
  let server: NatsServer | undefined;
  let local: LocalCluster | undefined;
  let manager: RunManager | undefined;
  try {
    server = await startNats({ maxPayload: 8 * 1024 * 1024 });
    const apiPort = freePort();
    local = await startLocalCluster({
      natsUrl: server.url,
      // The API and learners refuse paths outside the deployment's roots; this test's files all live in `dir`.
      env: rootsIn(dir),
      apiPort,
      agents: [{ nodeId: "n1", cpus: 8 }],
      registry: [new URL("./fixtures/rewriter.ts", import.meta.url).pathname],
    });
    manager = new RunManager(local.client);
    const api = new ApiClient(`http://127.0.0.1:${apiPort}`);

    await t.step("SFT warm-up writes a policy checkpoint", async () => {
      const sft = parseJobConfig({
        kind: "sft",
        name: "sft",
        seed: 1,
        data: { source: "builtin", levels: [1], size: 500 },
        eval: { interval: 0, size: 16 },
        checkpoint: { dir: `${dir}/sft` },
        learner: { resources: { cpu: 1 } },
        policy: { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64 },
        steps: 400, // the verifier wants a complete "#### n" answer; 150 steps gave none
        batchSize: 16,
        lr: 3e-3,
      });
      const status = manager!.start(sft);
      const final = await manager!.wait(status.id);
      strictEqual(final.state, "finished", final.error?.message);
      ok((await Deno.stat(`${dir}/sft/policy/model.safetensors`)).isFile);
      // Sealed like the run checkpoints: every file is in its SHA-256 manifest.
      const manifest = await verifyCheckpoint(`${dir}/sft/policy`);
      ok(manifest.files["model.safetensors"] !== undefined, JSON.stringify(Object.keys(manifest.files)));
    });

    await t.step("an end-to-end cooper run through the control API", async () => {
      const config = { ...rlConfig(dir), name: "api-run", steps: 4, eval: { interval: 2, size: 8, seed: 1_000_003 } };
      const { run } = await api.post<{ run: RunStatus }>("/v1/runs", { config });
      const final = await follow(api, run, { tick() {}, done() {}, current: 0 });
      strictEqual(final.state, "finished", final.error?.message);
      assertExact(final, 4 * 4 * 4);
      strictEqual(final.accounting.trained, 64);
      strictEqual(final.policyVersion, 4);
      const { metrics } = await api.get<{ metrics: MetricPoint[] }>(`/v1/runs/${run.id}/metrics`);
      const pairs = metrics.map((p) => [p.train_accuracy, p.rm_pairs, p.rm_groups_masked, p.rm_negatives_rejected]);
      ok(final.rmVersion > 0, `the RM was updated on verified pairs: [accuracy, pairs, masked, rejected] ${pairs}`);
      // Step 0 is the held-out evaluation of the starting point.
      deepStrictEqual(metrics.map((p) => p.step), [0, 1, 2, 3, 4]);
      const steps = metrics.slice(1);
      ok(steps.every((p) => typeof p.reward_mean === "number" && p.reward_mean >= 0 && p.reward_mean <= 1));
      ok([0, 2, 4].every((i) => typeof metrics[i]!.eval_accuracy === "number"));
      ok(typeof metrics[4]!.rm_pair_accuracy === "number");
      const { runs } = await api.get<{ runs: RunStatus[] }>("/v1/runs");
      ok(runs.some((r) => r.id === run.id));
    });

    await t.step("the staleness bound is honoured (0 = synchronous, 2 = up to two versions old)", async () => {
      for (const maxStaleness of [0, 2]) {
        const { status, metrics } = await runToEnd(manager!, rlConfig(dir, { maxStaleness, steps: 5, mode: "rule" }));
        ok(metrics.every((p) => p.staleness! <= maxStaleness), `staleness ≤ ${maxStaleness}`);
        // Async runs do train on older samples once the pipeline is full.
        strictEqual(status.staleness.highest, maxStaleness);
        assertExact(status, 5 * 16);
      }
    });

    await t.step("sample accounting stays exact when a rollout actor is killed mid-run", async () => {
      const config = rlConfig(dir, { name: "kill", steps: 6 });
      const status = manager!.start(config);
      let killing: Promise<number | undefined> | undefined;
      manager!.subscribe(status.id, (event) => {
        if (event.type !== "metric" || event.point.step !== 2 || killing !== undefined) return;
        killing = (async () => {
          const actors = await local!.client.actors();
          const victim = actors.find((a) => a.name === `${status.id}-rollout` && a.state === "alive");
          if (victim?.pid !== undefined) Deno.kill(victim.pid, "SIGKILL");
          return victim?.pid;
        })();
      });
      const final = await manager!.wait(status.id);
      strictEqual(final.state, "finished", final.error?.message);
      ok(await killing !== undefined, "a rollout actor was killed");
      assertExact(final, 6 * 16);
      strictEqual(final.accounting.trained, 96);
      const records = await local!.client.actors();
      ok(records.some((a) => a.name === `${status.id}-rollout` && a.restarts >= 1), "the rollout actor restarted");
    });

    await t.step(
      "a run stopped through the API checkpoints, and resuming it finishes with exact accounting",
      async () => {
        const config = rlConfig(dir, { name: "stop", steps: 30, checkpoint: { dir: `${dir}/stop`, interval: 0 } });
        const { run } = await api.post<{ run: RunStatus }>("/v1/runs", { config });
        let stopping: Promise<unknown> | undefined;
        const progress = {
          tick() {
            stopping ??= api.post(`/v1/runs/${run.id}/stop`, {});
          },
          done() {},
          current: 0,
        };
        const stopped = await follow(api, run, progress);
        await stopping;
        strictEqual(stopped.state, "stopped");
        ok(stopped.step < 30 && stopped.checkpoint !== undefined);
        // Batches produced ahead of the stop are saved in the checkpoint, not lost.
        strictEqual(stopped.accounting.trained, stopped.step * 16);
        const { run: resumed } = await api.post<{ run: RunStatus }>("/v1/runs", { config, resume: stopped.checkpoint });
        const final = await follow(api, resumed, { tick() {}, done() {}, current: 0 });
        strictEqual(final.state, "finished", final.error?.message);
        assertExact(final, 30 * 16);
      },
    );

    await t.step("a dead learner fails the run clearly; its last checkpoint resumes it", async () => {
      const config = rlConfig(dir, { name: "dead", steps: 12, checkpoint: { dir: `${dir}/dead`, interval: 2 } });
      const status = manager!.start(config);
      let killing: Promise<unknown> | undefined;
      manager!.subscribe(status.id, (event) => {
        if (event.type !== "metric" || event.point.step !== 3 || killing !== undefined) return;
        killing = (async () => {
          const learner = (await local!.client.actors()).find((a) => a.name === `${status.id}-policy-learner`);
          if (learner?.pid !== undefined) Deno.kill(learner.pid, "SIGKILL");
        })();
      });
      const failed = await manager!.wait(status.id);
      await killing;
      strictEqual(failed.state, "failed");
      ok(
        /policy-learner/.test(failed.error!.message) && /dead|exited/.test(failed.error!.message),
        failed.error!.message,
      );
      ok(failed.checkpoint?.endsWith("step-2"), failed.checkpoint);
      const resumed = await runToEnd(manager!, config, failed.checkpoint);
      assertExact(resumed.status, 12 * 16);
    });

    await t.step("negatives from an assistant actor go through the verifier filter", async () => {
      await local!.client.spawn(FakeAssistant, { name: "assistant", resources: { cpu: 0.1 } });
      const negatives = await local!.client.spawn(NegativeSynthesizer, { resources: { cpu: 0.1 } }, {
        assistant: "assistant",
      });
      const batch = await negatives.pairs([
        { question: "q1", reference: "4", responses: ["2+2=4. #### 4", "#### 5"] },
        { question: "q2", reference: "7", responses: ["#### 1"] },
      ], 0);
      strictEqual(batch.pairs.length, 1);
      strictEqual(batch.pairs[0]!.negative, "i think it is 5. #### 5");
      deepStrictEqual(batch.mask, [true, false]);
      strictEqual(batch.counts.rejectedNegatives, 1);
      strictEqual(batch.counts.noPositive, 1);
    });

    await t.step("a seed fully determines a run: RM pretraining on policy answers, then cooper, twice", async () => {
      const rm = (name: string) =>
        parseJobConfig({
          kind: "rm-pretrain",
          name,
          seed: 5,
          data: { source: "builtin", levels: [1], size: 200 },
          eval: { interval: 0, size: 8 },
          checkpoint: { dir: `${dir}/${name}` },
          rewardModel: { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64 },
          labelledTasks: 24,
          policy: { checkpoint: `${dir}/sft/policy`, temperatures: [0.7, 1.3], samples: 2, maxNewTokens: 16 },
          evalSamples: 4,
          steps: 6,
          batchSize: 8,
        });
      const runs = [];
      for (const name of ["det-a", "det-b"]) {
        const warm = await runToEnd(manager!, rm(`${name}-rm`));
        ok(warm.status.notes.some((n) => /labelled set: \d+ completions, \d+ verified correct/.test(n)));
        const config = rlConfig(dir, {
          name,
          steps: 3,
          eval: { interval: 3, size: 8 },
          rewardModel: { checkpoint: `${dir}/${name}-rm/reward_model` },
          monitor: { window: 2 },
        });
        runs.push({ warm: warm.metrics, rl: (await runToEnd(manager!, config)).metrics });
      }
      const timing = /^(time|.*_ms|.*_per_s)$/;
      const numbers = (points: MetricPoint[]) =>
        points.map((p) => Object.fromEntries(Object.entries(p).filter(([k]) => !timing.test(k))));
      ok(Number.isFinite(runs[0]!.warm.at(-1)!.rm_accuracy), "held-out RM accuracy on policy answers");
      ok(runs[0]!.rl.slice(1).every((p) => p.hacking_alarm === 0 || p.hacking_alarm === 1));
      deepStrictEqual(numbers(runs[1]!.warm), numbers(runs[0]!.warm));
      deepStrictEqual(numbers(runs[1]!.rl), numbers(runs[0]!.rl));
    });

    await t.step("a non-finite policy update is skipped: not trained, version kept, K in a row fail", async () => {
      // lr 1e30 blows the weights up at the first update; from then on the loss is not finite and every update
      // is skipped by the Trainer.
      const config = rlConfig(dir, {
        name: "diverge",
        mode: "rule",
        steps: 8,
        maxStaleness: 0,
        maxConsecutiveSkips: 2,
        grpo: { samplesPerPrompt: 4, promptsPerStep: 4, maxNewTokens: 16, microBatchSize: 16, lr: 1e30 },
      });
      const status = manager!.start(config);
      const final = await manager!.wait(status.id);
      const metrics = manager!.metrics(status.id);
      strictEqual(final.state, "failed");
      strictEqual(final.error?.name, "DivergedError", final.error?.message);
      ok(/policy update was skipped 2 steps in a row/.test(final.error!.message), final.error!.message);
      const skipped = metrics.filter((p) => p.update_skipped === 1);
      strictEqual(skipped.length, 1, "the first skipped step is reported, the second fails the run");
      strictEqual(skipped[0]!.policy_version, metrics.find((p) => p.step === skipped[0]!.step - 1)!.policy_version);
      strictEqual(final.accounting.skipped, 16);
      strictEqual(final.accounting.trained, 16 * (skipped[0]!.step - 1));
    });

    await t.step("resume from a checkpoint continues with the same next-step metrics", async () => {
      const config = rlConfig(dir, { name: "resume", steps: 4, checkpoint: { dir: `${dir}/ck`, interval: 2 } });
      const first = await runToEnd(manager!, config);
      const checkpoint = `${dir}/ck/${first.status.id}/step-2`;
      const resumed = await runToEnd(manager!, config, checkpoint);
      deepStrictEqual(resumed.metrics.map((p) => p.step), [3, 4]);
      const keys = ["reward_mean", "rm_reward_mean", "train_accuracy", "policy_loss", "grad_norm", "kl", "rm_loss"];
      for (const step of [3, 4]) {
        const a = first.metrics.find((p) => p.step === step)!;
        const b = resumed.metrics.find((p) => p.step === step)!;
        for (const key of keys) {
          if (a[key] === undefined && b[key] === undefined) continue;
          ok(
            Math.abs(a[key]! - b[key]!) <= 1e-5 * Math.max(1, Math.abs(a[key]!)),
            `step ${step} ${key}: ${a[key]} vs ${b[key]}`,
          );
        }
      }
      assertExact(resumed.status, 4 * 16);
      strictEqual(resumed.status.policyVersion, first.status.policyVersion);
    });
  } finally {
    await manager?.close().catch(() => {});
    await local?.stop().catch(() => {});
    await server?.stop().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
