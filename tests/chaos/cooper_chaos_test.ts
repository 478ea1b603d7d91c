/**
 * Chaos (`./coop test chaos`): a tiny cooper run on a local cluster (nats-server, coordinator and two agent
 * processes) while a seeded schedule kill -9s role actors (rollout, reward, reference, negatives) and the
 * coordinator itself. The run must finish with exact sample accounting (generated = scored = trained + dropped,
 * nothing left in flight), every role process killed must have restarted, no resource may leak (free = total on
 * every node afterwards), and every fault injected is logged. COOP_CHAOS_SEED picks another schedule.
 */
import { ok, strictEqual } from "node:assert";
import { freePort, type LocalCluster, startLocalCluster } from "../../coordinator/local_cluster.ts";
import { RunManager } from "../../coordinator/run/manager.ts";
import type { ClusterSnapshot } from "../../coordinator/api.ts";
import { parseRunConfig } from "../../rl/mod.ts";
import { mulberry32 } from "../../shared/random.ts";
import { startNats } from "../harness.ts";
import { CLUSTER_TEST, eventually, rootsIn } from "../runtime/cluster_fixture.ts";

const SEED = Number(Deno.env.get("COOP_CHAOS_SEED") ?? 7);
const STEPS = 12;
// Faults at steps 1..FAULTS, leaving the rest of the run for the last recoveries.
const FAULTS = 5;
const VICTIMS = ["rollout", "rollout-1", "reward", "reference", "negatives"];

/** One injected fault, and how long the cluster took to recover from it. */
interface Fault {
  step: number;
  kind: "kill -9 actor" | "kill -9 coordinator";
  target: string;
  pid: number;
  recoveredMs?: number;
}

Deno.test(
  { name: "chaos - a cooper run survives seeded kill -9s of role actors and the coordinator", ...CLUSTER_TEST },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "coop-chaos-" });
    const server = await startNats({ maxPayload: 8 * 1024 * 1024 });
    let local: LocalCluster | undefined;
    const faults: Fault[] = [];
    try {
      const apiPort = freePort();
      local = await startLocalCluster({
        natsUrl: server.url,
        // The API and learners refuse paths outside the deployment's roots; this test's files all live in `dir`.
        env: rootsIn(dir),
        apiPort,
        agents: [{ nodeId: "c1", cpus: 8 }, { nodeId: "c2", cpus: 8 }],
      });
      const manager = new RunManager(local.client);
      const config = parseRunConfig({
        name: "chaos",
        mode: "cooper",
        seed: SEED,
        steps: STEPS,
        maxStaleness: 1,
        data: { source: "builtin", levels: [1], size: 200 },
        eval: { interval: 0, size: 8 },
        checkpoint: { dir: `${dir}/runs`, interval: 0 },
        rollout: { count: 2, resources: { cpu: 0.5 } },
        policy: { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64 },
        rewardModel: { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64 },
        grpo: { samplesPerPrompt: 4, promptsPerStep: 4, maxNewTokens: 12, microBatchSize: 16 },
        rewardUpdate: { lr: 1e-3 },
      });
      const random = mulberry32(SEED);
      // The schedule: one fault per step from step 1 to FAULTS (the last recoveries finish before the run does),
      // the coordinator once, each role at most once (so no kill lands on a process already dead); drawn before the
      // run, so a seed names one schedule. Faults overlap: one may come while the previous still recovers.
      // The coordinator goes last: while it is away no record can be read, so later actor faults would wait it out.
      const coordinatorStep = FAULTS;
      const schedule = new Map<number, string>();
      const kills = new Map<string, number>();
      for (let step = 1; step <= FAULTS; step++) {
        if (step === coordinatorStep) {
          schedule.set(step, "coordinator");
          continue;
        }
        const candidates = VICTIMS.filter((v) => !kills.has(v));
        const victim = candidates[Math.floor(random() * candidates.length)]!;
        kills.set(victim, (kills.get(victim) ?? 0) + 1);
        schedule.set(step, victim);
      }
      const status = manager.start(config);
      const injecting: Promise<void>[] = [];
      manager.subscribe(status.id, (event) => {
        if (event.type !== "metric") return;
        const target = schedule.get(event.point.step);
        if (target === undefined) return;
        schedule.delete(event.point.step);
        const ended = () => manager.get(status.id).state !== "running";
        injecting.push(inject(local!, status.id, event.point.step, target, faults, ended));
      });
      const final = await manager.wait(status.id);
      await Promise.all(injecting);
      console.log(`chaos seed ${SEED}: ${faults.length} faults injected`);
      for (const f of faults) {
        const outcome = f.recoveredMs === undefined ? "the run ended first" : `recovered in ${f.recoveredMs} ms`;
        console.log(`  step ${f.step}: ${f.kind} ${f.target} (pid ${f.pid}), ${outcome}`);
      }
      strictEqual(final.state, "finished", `run ${final.state}: ${final.error?.message}`);
      strictEqual(faults.length, FAULTS, "every scheduled fault was injected");
      // A kill near the end may outlive the run (its actors are stopped then); the others must have recovered.
      const recovered = faults.filter((f) => f.recoveredMs !== undefined);
      ok(recovered.length >= FAULTS - 1, `recovered from ${recovered.length} of ${FAULTS} faults`);
      ok(recovered.some((f) => f.kind === "kill -9 coordinator"), "a new coordinator took over");
      ok(faults.some((f) => f.kind === "kill -9 coordinator"), "the coordinator was killed");

      // Exact accounting: every sample generated was scored, and trained or dropped as stale, exactly once.
      const a = final.accounting;
      const expected = STEPS * config.grpo.samplesPerPrompt * config.grpo.promptsPerStep;
      strictEqual(a.generated, expected, JSON.stringify(a));
      strictEqual(a.scored, a.generated);
      strictEqual(a.trained + a.droppedStale, a.generated);
      strictEqual(a.awaitingScore + a.awaitingTraining, 0);

      // No leaked resources: once the run's actors are gone, every node is whole again.
      let last = "";
      await eventually("every node's resources freed", async () => {
        const response = await fetch(`http://127.0.0.1:${apiPort}/v1/cluster`);
        const cluster = await response.json() as ClusterSnapshot;
        last = JSON.stringify(
          cluster.nodes.map((n) => ({ id: n.id, free: n.free.cpu, total: n.total.cpu, on: n.actors })),
        );
        const whole = cluster.nodes.every((n) => n.alive && n.free.cpu === n.total.cpu && n.actors.length === 0);
        return whole && cluster.nodes.length === 2 ? true : undefined;
      }, 30_000).catch(async (error) => {
        const states = (await local!.client.actors()).map((a) => `${a.name}:${a.state}:${a.nodeId}:r${a.restarts}`);
        const logs = [...local!.agents.values(), local!.coordinator].flatMap((p) => p.output.slice(-15));
        throw new Error(`${error.message}: ${last}; records ${states.join(" ")}\n${logs.join("\n")}`);
      });
    } finally {
      await local?.stop();
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);

/** Kills `target` (a role of run `runId`, or the coordinator, then starts a new one) and logs the fault. */
async function inject(
  local: LocalCluster,
  runId: string,
  step: number,
  target: string,
  faults: Fault[],
  ended: () => boolean,
) {
  const started = performance.now();
  if (target === "coordinator") {
    const fault: Fault = { step, kind: "kill -9 coordinator", target, pid: local.coordinator.pid };
    faults.push(fault);
    Deno.kill(fault.pid, "SIGKILL");
    await local.coordinator.status;
    // Lease TTL: the successor takes over once the dead holder's lease expires.
    await local.restartCoordinator();
    fault.recoveredMs = Math.round(performance.now() - started);
    return;
  }
  const name = `${runId}-${target}`;
  const actor = async () => (await local.client.actors()).find((a) => a.name === name);
  const record = await eventually(`${name} alive`, async () => {
    if (ended()) return null;
    const found = await actor();
    return found?.state === "alive" && found.pid !== undefined ? found : undefined;
  }, 60_000);
  if (record === null) return;
  const fault: Fault = { step, kind: "kill -9 actor", target: name, pid: record.pid! };
  faults.push(fault);
  Deno.kill(fault.pid, "SIGKILL");
  // Recovered: a new incarnation of the actor serves.
  const recovered = await eventually(`${name} restarted`, async () => {
    const found = await actor();
    if (ended()) return false; // the run is over (its actors were stopped): nothing left to recover
    return found?.state === "alive" && found.incarnation > record.incarnation ? true : undefined;
  }, 60_000).catch(async (error) => {
    const found = await actor().catch(() => undefined);
    const logs = [local.coordinator, ...local.agents.values()].map((p) =>
      `${p.name}:\n${p.output.slice(-30).join("\n")}`
    );
    throw new Error(`${error.message} (record ${JSON.stringify(found)})\n${logs.join("\n")}`);
  });
  if (recovered) fault.recoveredMs = Math.round(performance.now() - started);
}
