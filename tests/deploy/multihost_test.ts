/**
 * Multi-host on one machine: three network namespaces on an emulated LAN. "head" runs nats-server (with
 * deploy/nats/nats.conf) and the coordinator, "a" and "b" run one agent each; every Coop process starts through
 * deploy/entrypoint.sh as in the images, host b joins through deploy/join.sh. Cutting host a's link moves its
 * actor to b; restoring it brings a back into the cluster.
 */
import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { clientAnswer, natsConfig, natsEnv, natsServerEnv, newSecrets, type NodeSummary } from "./cluster_env.ts";
import { denoPath, ensureCommands, isRoot, ROOT, run, waitFor } from "./host.ts";
import { createLan, type Lan, type NetHost, type NetProcess, sweepStale } from "./netns.ts";

async function preconditions(): Promise<string | null> {
  if (Deno.build.os !== "linux") return "needs Linux network namespaces";
  if (!isRoot()) return "needs root to create network namespaces (ip netns add)";
  const missing = await ensureCommands({ ip: "iproute2", "nats-server": "nats-server" });
  if (missing) return missing;
  const probe = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "null", stderr: "null" }).output();
  return probe.success ? null : "ip netns does not work on this host";
}

const skip = await preconditions();
if (skip) console.error(`SKIP tests/deploy/multihost_test.ts: ${skip}`);

Deno.test({
  name: "multi-host - actors on two netns hosts, a cut link reschedules, the restored host rejoins",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await sweepStale();
    const lan = await createLan(["head", "a", "b"]);
    const procs: NetProcess[] = [];
    const storeDir = await Deno.makeTempDir({ prefix: "coop-netns-js-" });
    try {
      await runScenario(lan, procs, storeDir);
    } catch (error) {
      for (const p of procs) console.error(`--- ${p.host.name} (${p.logPath}) ---\n${(await p.log()).slice(-3000)}`);
      throw error;
    } finally {
      await lan.teardown();
      await Deno.remove(storeDir, { recursive: true }).catch(() => {});
    }
  },
});

async function runScenario(lan: Lan, procs: NetProcess[], storeDir: string): Promise<void> {
  const head = lan.host("head");
  const [a, b] = [lan.host("a"), lan.host("b")];
  const secrets = newSecrets();
  const natsUrl = `nats://${head.ip}:4222`;
  const base = { COOP_DENO: denoPath(), COOP_NODE_TIMEOUT_MS: "3000", COOP_HEARTBEAT_MS: "500", NO_COLOR: "1" };

  const confPath = `${storeDir}/nats.conf`;
  await Deno.writeTextFile(confPath, await natsConfig(`${storeDir}/js`));
  procs.push(lan.spawn(head, "nats-server", ["-c", confPath], { env: natsServerEnv(secrets) }));
  procs.push(lan.spawn(head, `${ROOT}/deploy/entrypoint.sh`, ["coordinator"], {
    env: { ...base, ...natsEnv(natsUrl, secrets), COOP_API_TOKEN: secrets.apiToken, COOP_API_PORT: "8470" },
  }));

  const client = async <T>(args: string[]): Promise<T> =>
    clientAnswer<T>(
      await lan.exec(head, denoPath(), ["run", "-A", `${ROOT}/tests/deploy/client.ts`, ...args], {
        env: { ...base, ...natsEnv(natsUrl, secrets), COOP_API_TOKEN: secrets.apiToken },
      }),
    );
  const nodes = async () => {
    const answer = await client<{ status: number; body: { nodes: NodeSummary[] } }>(["api", "/v1/nodes"]);
    assertEquals(answer.status, 200);
    return answer.body.nodes;
  };
  const t0 = performance.now();
  const step = (what: string) => console.log(`  [${((performance.now() - t0) / 1000).toFixed(1)} s] ${what}`);
  const aliveIds = async () => (await nodes()).filter((n) => n.alive).map((n) => n.id).sort();

  // Host a joins first, so the unconstrained actor "ca" can only land there.
  procs.push(lan.spawn(a, `${ROOT}/deploy/entrypoint.sh`, ["agent"], {
    env: {
      ...base,
      ...natsEnv(natsUrl, secrets),
      COOP_NODE_ID: "host-a",
      COOP_AGENT_CPUS: "2",
      COOP_AGENT_LABELS: "host=a",
    },
  }));
  await waitFor("host-a to register", async () => (await aliveIds()).includes("host-a") || undefined, {
    timeoutMs: 60_000,
  });
  const ca = await client<{ nodeId: string }>(["spawn", "ca", "--max-restarts", "3"]);
  assertEquals(ca.nodeId, "host-a");
  step("host-a registered, actor ca spawned on host-a");

  // Host b is set up like a bare host: join.sh copies the source to its install dir and, finding no Deno on PATH,
  // installs Deno from npm and caches the dependencies (this step runs outside the namespaces: it needs npm).
  // Then, on host b, the installed copy's join.sh starts the agent.
  const installDir = `${storeDir}/coop-b`;
  const bare = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", COOP_DENO: "" };
  const joinArgs = (...more: string[]) => ["--nats", natsUrl, ...more];
  const install = await run(`${ROOT}/deploy/join.sh`, [
    ...joinArgs("--source", ROOT, "--install-dir", installDir, "--no-start"),
    ...["--env-file", `${storeDir}/install-b.env`],
  ], { env: bare, check: false });
  assertEquals(install.code, 0, `join.sh install failed: ${install.stderr}`);
  // A machine with Deno in /usr/bin (e.g. `npm i -g deno`) is not bare: join.sh then uses that Deno, as it should.
  const systemDeno = await run("sh", ["-c", "command -v deno"], { env: bare, check: false });
  if (systemDeno.code === 0) {
    step(`join.sh copied Coop and cached its dependencies with the system Deno (${systemDeno.stdout.trim()})`);
  } else {
    await Deno.stat(`${installDir}/.tools/node_modules/.bin/deno`);
    step("join.sh copied Coop and installed Deno (from npm) and its dependencies into a fresh directory");
  }
  procs.push(lan.spawn(b, `${installDir}/deploy/join.sh`, [
    ...joinArgs("--user", secrets.natsUser, "--password", secrets.natsPassword),
    ...["--node-id", "host-b", "--cpus", "2", "--label", "host=b", "--env-file", `${storeDir}/agent-b.env`],
  ], { env: { ...base, ...bare } }));
  await waitFor("host-b to register", async () => (await aliveIds()).includes("host-b") || undefined, {
    timeoutMs: 90_000,
  });
  const cb = await client<{ nodeId: string }>(["spawn", "cb", "--label", "host=b"]);
  assertEquals(cb.nodeId, "host-b");
  assertEquals((await client<{ value: number }>(["call", "ca", "incr", "5"])).value, 5);
  assertEquals((await client<{ value: number }>(["call", "cb", "incr", "7"])).value, 7);
  step("host-b joined via join.sh, actor cb on host-b; both called");

  // Pull host a's cable: the coordinator stops hearing it and restarts "ca" on host b.
  await lan.cut(a);
  await waitFor("host-a to be declared dead", async () => (await aliveIds()).includes("host-a") ? undefined : true, {
    timeoutMs: 60_000,
  });
  const moved = await waitFor("ca to be rescheduled on host-b", async () => {
    const where = await client<{ nodeId: string; restarts: number }>(["where", "ca"]);
    return where.nodeId === "host-b" ? where : undefined;
  }, { timeoutMs: 60_000, intervalMs: 1000 });
  step(`link of host-a cut: host-a dead, ca now on ${moved.nodeId} (restarts ${moved.restarts})`);
  assert(moved.restarts >= 1, `ca moved to host-b without counting a restart: ${JSON.stringify(moved)}`);
  assertEquals((await client<{ value: number }>(["call", "ca", "incr", "1"])).value, 1); // state was in the lost process
  assertEquals((await client<{ value: number }>(["call", "cb", "incr", "1"])).value, 8); // b's actor was untouched

  // Plug it back in: host a rejoins and takes new work.
  await lan.restore(a);
  await waitFor("host-a to rejoin", async () => (await aliveIds()).includes("host-a") || undefined, {
    timeoutMs: 90_000,
    intervalMs: 1000,
  });
  // The copy of "ca" that kept running on host-a while it was cut off must not come back as a second "ca".
  const listed = await client<{ status: number; body: { actors: { nodeId: string; state: string }[] } }>([
    "api",
    "/v1/actors?name=ca",
  ]);
  assertEquals(JSON.stringify(listed.body.actors.map((x) => [x.nodeId, x.state])), '[["host-b","alive"]]');
  assertEquals((await client<{ value: number }>(["call", "ca", "incr", "1"])).value, 2);
  const again = await client<{ nodeId: string }>(["spawn", "ca2", "--label", "host=a"]);
  assertEquals(again.nodeId, "host-a");
  assertEquals((await client<{ value: number }>(["call", "ca2", "incr", "3"])).value, 3);
  step("link restored: host-a rejoined and runs a new actor");
  assertNoTrafficLeft(lan, [head, a, b]);
}

/** The hosts' addresses exist only inside their namespaces, never in the root one. */
function assertNoTrafficLeft(_lan: Lan, hosts: NetHost[]): void {
  const rootAddrs = new TextDecoder().decode(
    new Deno.Command("ip", { args: ["-o", "addr"], stdout: "piped" }).outputSync().stdout,
  );
  for (const host of hosts) assert(!rootAddrs.includes(`${host.ip}/`), `${host.ip} leaked into the root namespace`);
}
