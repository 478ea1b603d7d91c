/**
 * Chaos (`./coop test chaos`): a tiny cooper run on a local cluster (nats-server, coordinator and three agent
 * processes) while a seeded schedule kill -9s role actors (rollout, reward, reference, negatives), a whole agent
 * (one hosting no learner: learners do not restart, by design; the agent's actors are rescheduled on the others and
 * the agent then comes back), restarts nats-server (its store kept; every process reconnects, calls in flight are
 * resent and answered once), and kill -9s the coordinator itself. The run
 * must finish with exact sample accounting (generated = scored = trained + dropped, nothing left in flight), every
 * role process killed must have restarted, no resource may leak (free = total on every node afterwards), and every
 * fault injected is logged. COOP_CHAOS_SEED picks another schedule.
 */
import { type ClusterSnapshot } from "../../coordinator/http/mod.ts";
import { ok, strictEqual } from "node:assert";
import { freePort, type LocalCluster, startLocalCluster } from "../../coordinator/local/mod.ts";
import { RunManager } from "../../coordinator/run/manager.ts";

import { parseRunConfig } from "../../rl/mod.ts";
import { Rng } from "../../shared/mod.ts";
import { type NatsServer, startNats } from "../harness.ts";
import { CLUSTER_TEST, eventually, rootsIn } from "../runtime/cluster_fixture.ts";

const SEED = Number(Deno.env.get("COOP_CHAOS_SEED") ?? 7);
const STEPS = 12;
const VICTIMS = ["rollout", "rollout-1", "reward", "reference", "negatives"];
// Whole-cluster faults, each once, at a seeded step before the coordinator's. The nats-server restart: requests in
// flight fail at the disconnect (ConnectionLostError), actor calls are resent under their call id (the host answers
// from its reply cache, so no learner update runs twice), and KV/Object Store reads and puts are retried.
// COOP_CHAOS_NATS=0 leaves it out.
const WITH_NATS = Deno.env.get("COOP_CHAOS_NATS") !== "0";
const CLUSTER_FAULTS = WITH_NATS ? ["agent", "nats"] : ["agent"];
// Faults at steps 1..FAULTS (four actor kills, the cluster faults, the coordinator last), leaving the rest of the
// run for the last recoveries.
const FAULTS = 5 + CLUSTER_FAULTS.length;
const AGENTS = ["c1", "c2", "c3"];

/** One injected fault, and how long the cluster took to recover from it. */
interface Fault {
  step: number;
  kind: "kill -9 actor" | "kill -9 coordinator" | "kill -9 agent" | "restart nats-server";
  target: string;
  pid: number;
  recoveredMs?: number;
}

Deno.test(
  {
    name: "chaos - a cooper run survives seeded kill -9s of role actors, an agent and the coordinator",
    ...CLUSTER_TEST,
  },
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
        agents: AGENTS.map((nodeId) => ({ nodeId, cpus: 8 })),
        // Fast failure detection: a killed agent's actors are rescheduled within seconds.
        heartbeatMs: 250,
        nodeTimeoutMs: 2500,
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
      const rng = new Rng(SEED);
      const random = () => rng.next();
      // The schedule: one fault per step from step 1 to FAULTS (the last recoveries finish before the run does),
      // the coordinator once, each role at most once (so no kill lands on a process already dead); drawn before the
      // run, so a seed names one schedule. Faults overlap: one may come while the previous still recovers.
      // The coordinator goes last: while it is away no record can be read, so later actor faults would wait it out.
      const coordinatorStep = FAULTS;
      const schedule = new Map<number, string>();
      const kills = new Map<string, number>();
      const free = Array.from({ length: FAULTS - 1 }, (_, i) => i + 1);
      for (const fault of CLUSTER_FAULTS) schedule.set(free.splice(Math.floor(random() * free.length), 1)[0]!, fault);
      for (let step = 1; step <= FAULTS; step++) {
        if (step === coordinatorStep) {
          schedule.set(step, "coordinator");
          continue;
        }
        if (schedule.has(step)) continue;
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
        const cluster = { local: local!, server };
        injecting.push(inject(cluster, status.id, event.point.step, target, faults, ended));
      });
      const final = await manager.wait(status.id).finally(() =>
        Promise.allSettled(injecting).then(() => report(faults))
      );
      await Promise.all(injecting);
      strictEqual(final.state, "finished", `run ${final.state}: ${JSON.stringify(final.error)}`);
      strictEqual(faults.length, FAULTS, "every scheduled fault was injected");
      // A kill near the end may outlive the run (its actors are stopped then); the others must have recovered.
      const recovered = faults.filter((f) => f.recoveredMs !== undefined);
      ok(recovered.length >= FAULTS - 1, `recovered from ${recovered.length} of ${FAULTS} faults`);
      ok(faults.some((f) => f.kind === "kill -9 agent"), "an agent was killed");
      if (WITH_NATS) ok(faults.some((f) => f.kind === "restart nats-server"), "nats-server was restarted");
      else console.log("nats-server restart mid-run skipped (COOP_CHAOS_NATS=0)");
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
        return whole && cluster.nodes.length === AGENTS.length ? true : undefined;
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

/** Prints the fault log (also when the run or an injection failed). */
function report(faults: Fault[]): void {
  console.log(`chaos seed ${SEED}: ${faults.length} faults injected`);
  for (const f of faults) {
    const outcome = f.recoveredMs === undefined ? "the run ended first" : `recovered in ${f.recoveredMs} ms`;
    console.log(`  step ${f.step}: ${f.kind} ${f.target} (pid ${f.pid}), ${outcome}`);
  }
}

/**
 * Kills `target` (a role of run `runId`; an agent; the coordinator, then starts a new one) or restarts nats-server,
 * and logs the fault.
 */
async function inject(
  { local, server }: { local: LocalCluster; server: NatsServer },
  runId: string,
  step: number,
  target: string,
  faults: Fault[],
  ended: () => boolean,
) {
  const started = performance.now();
  if (target === "agent") return await killAgent(local, runId, step, faults, ended);
  if (target === "nats") {
    const fault: Fault = { step, kind: "restart nats-server", target: server.url, pid: 0 };
    faults.push(fault);
    await server.restart();
    // Recovered: the coordinator answers again (every process reconnected on its own).
    await eventually("the cluster answering after the NATS restart", () => local.client.actors(), 60_000);
    fault.recoveredMs = Math.round(performance.now() - started);
    return;
  }
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

/**
 * Kill -9s an agent that hosts actors of the run but no learner, waits until the coordinator declared it dead and
 * every run actor is alive again elsewhere, then starts the agent again (so every node must end up whole).
 */
async function killAgent(local: LocalCluster, runId: string, step: number, faults: Fault[], ended: () => boolean) {
  const started = performance.now();
  const runActors = async () => (await local.client.actors()).filter((a) => a.name?.startsWith(`${runId}-`));
  const victim = await eventually("an agent without a learner", async () => {
    if (ended()) return null;
    const actors = (await runActors()).filter((a) => a.state === "alive");
    const hosting = (id: string) => actors.filter((a) => a.nodeId === id);
    return AGENTS.find((id) => hosting(id).length > 0 && !hosting(id).some((a) => a.name!.endsWith("learner")));
  }, 60_000);
  if (victim === null) return;
  const process = local.agents.get(victim)!;
  const fault: Fault = { step, kind: "kill -9 agent", target: victim, pid: process.pid };
  faults.push(fault);
  Deno.kill(fault.pid, "SIGKILL");
  await process.status;
  const recovered = await eventually(`the actors of ${victim} rescheduled`, async () => {
    if (ended()) return false;
    const node = (await local.client.nodes()).find((n) => n.id === victim);
    const actors = await runActors();
    const moved = actors.every((a) => a.state === "dead" || (a.state === "alive" && a.nodeId !== victim));
    return node?.state === "dead" && moved ? true : undefined;
  }, 60_000);
  await local.addAgent({ nodeId: victim, cpus: 8 }).catch((error) => {
    const logs = [local.coordinator, local.agents.get(victim)!].map((p) =>
      `${p.name}:\n${p.output.slice(-30).join("\n")}`
    );
    throw new Error(`${error.message}\n${logs.join("\n")}`);
  });
  if (recovered) fault.recoveredMs = Math.round(performance.now() - started);
}
