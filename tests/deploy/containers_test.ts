/**
 * The real deploy/Dockerfile built and run with podman, with no registry: the base image is made here with
 * debootstrap (see podman.ts). On one podman network, as in compose.yaml: a NATS container (nats-server from
 * Debian, the shipped deploy/nats/nats.conf), the coordinator and an agent from the built image. An actor is
 * spawned and called from inside the coordinator container, `/v1/cluster` is read from the host through the
 * published API port, auth is checked from outside, and the image's HEALTHCHECK runs in both Coop containers.
 */
import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { freePort } from "../harness.ts";
import { natsEnv, natsServerEnv, newSecrets } from "./cluster_env.ts";
import { ensureCommands, isRoot, ROOT, runId, waitFor } from "./host.ts";
import {
  BASE_IMAGE,
  buildImage,
  ensureBaseImage,
  inCi,
  podman,
  resourcePrefix,
  RUN_FLAGS,
  sweepStaleContainers,
} from "./podman.ts";

const IMAGE = "localhost/coop:deploy-test";
const CUDA_IMAGE = "localhost/coop-cuda:deploy-test";

async function preconditions(): Promise<string | null> {
  if (Deno.build.os !== "linux") return "needs Linux";
  if (!isRoot()) return "needs root for podman with the runc runtime and debootstrap";
  const missing = await ensureCommands({
    podman: "podman",
    runc: "runc",
    debootstrap: "debootstrap",
    "nats-server": "nats-server",
  });
  if (missing) return missing;
  const info = await podman(["info", "--format", "{{.Host.OCIRuntime.Name}}"], { check: false });
  return info.code === 0 ? null : `podman does not work here: ${info.stderr.trim().slice(-300)}`;
}

const skip = await preconditions();
if (skip) console.error(`SKIP tests/deploy/containers_test.ts: ${skip}`);

Deno.test({
  name: "containers - Dockerfile builds without a registry; NATS, coordinator and agent containers run an actor",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const id = runId();
    const timings: string[] = [];
    const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const value = await fn();
      timings.push(`${what} ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return value;
    };

    const base = await timed("base image", () => ensureBaseImage());
    await timed("docker build", () => buildImage("Dockerfile", IMAGE, { noCache: inCi() }));
    await t.step("the image runs as a non-root user with a healthcheck", async () => {
      const image = JSON.parse((await podman(["image", "inspect", IMAGE])).stdout)[0];
      assertEquals(image.Config.User, "coop");
      assertEquals(image.Config.Entrypoint?.[0], "/app/deploy/entrypoint.sh");
      // podman reports HEALTHCHECK at the top level, docker under Config
      const health = image.Healthcheck ?? image.Config.Healthcheck;
      assert(health?.Test?.join(" ").includes("healthcheck"), JSON.stringify(health));
    });

    await sweepStaleContainers();
    const prefix = `${resourcePrefix()}${id}`;
    const network = `${prefix}-net`;
    const names = { nats: `${prefix}-nats`, coordinator: `${prefix}-coord`, agent: `${prefix}-agent` };
    const secrets = newSecrets();
    const apiPort = freePort();
    const natsPort = freePort();
    const env = (vars: Record<string, string>) => Object.entries(vars).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    const coopEnv = { ...natsEnv("nats://nats:4222", secrets), COOP_CLUSTER: "podman" };
    try {
      await podman(["network", "create", network]);
      await timed("containers up", async () => {
        await podman([
          "run",
          "-d",
          "--name",
          names.nats,
          "--network",
          network,
          "--network-alias",
          "nats",
          ...RUN_FLAGS,
          "-v",
          `${ROOT}/deploy/nats/nats.conf:/etc/nats/nats.conf:ro,Z`,
          "--tmpfs",
          "/data",
          "-p",
          `127.0.0.1:${natsPort}:4222`,
          ...env(natsServerEnv(secrets)),
          BASE_IMAGE,
          "nats-server",
          "-c",
          "/etc/nats/nats.conf",
        ]);
        const natsHost = await hostEntry(names.nats, network, "nats");
        await podman([
          "run",
          "-d",
          "--name",
          names.coordinator,
          "--network",
          network,
          natsHost,
          ...RUN_FLAGS,
          "-p",
          `127.0.0.1:${apiPort}:8470`,
          ...env({ ...coopEnv, COOP_API_TOKEN: secrets.apiToken }),
          IMAGE,
          "coordinator",
        ]);
        await podman([
          "run",
          "-d",
          "--name",
          names.agent,
          "--network",
          network,
          natsHost,
          ...RUN_FLAGS,
          ...env({
            ...coopEnv,
            COOP_NODE_ID: "podman-agent",
            COOP_AGENT_CPUS: "2",
            COOP_AGENT_LABELS: "runtime=podman",
          }),
          IMAGE,
          "agent",
        ]);
        await waitFor("the agent to register", async () => {
          const cluster = await getJson(`http://127.0.0.1:${apiPort}/v1/cluster`, secrets.apiToken);
          return cluster.body.nodes?.some((n: { id: string; alive: boolean }) => n.id === "podman-agent" && n.alive)
            ? true
            : undefined;
        }, { timeoutMs: 90_000, intervalMs: 500 });
      });

      await t.step("an actor spawned and called from inside the coordinator container", async () => {
        const client = (args: string[]) =>
          podman(["exec", names.coordinator, "deno", "run", "-A", "--cached-only", "tests/deploy/client.ts", ...args]);
        const spawned = JSON.parse((await client(["spawn", "c1"])).stdout.trim().split("\n").pop()!);
        assertEquals(spawned.nodeId, "podman-agent");
        const called = JSON.parse((await client(["call", "c1", "incr", "4"])).stdout.trim().split("\n").pop()!);
        assertEquals(called.value, 4);
      });

      await t.step("/v1/cluster from the host shows the node and the actor", async () => {
        const cluster = await getJson(`http://127.0.0.1:${apiPort}/v1/cluster`, secrets.apiToken);
        assertEquals(cluster.status, 200);
        assertEquals(cluster.body.coordinator.id, "podman");
        const actor = cluster.body.actors.find((a: { name?: string }) => a.name === "c1");
        assertEquals(actor?.state, "alive");
        assertEquals(actor?.nodeId, "podman-agent");
      });

      await t.step(
        "auth from outside: NATS refuses a client without credentials, a wrong API token gets 401",
        async () => {
          // Raw protocol rather than nats.js: through podman's port forwarding the server's close arrives as a reset,
          // which nats.js (transport-node 3.4.0) raises as an uncaught ECONNRESET after rejecting connect().
          const answer = await natsHandshake(natsPort, {});
          assert(/-ERR 'Authorization Violation'/.test(answer), `a client without credentials got: ${answer}`);
          const accepted = await natsHandshake(natsPort, { user: secrets.natsUser, pass: secrets.natsPassword });
          assert(accepted.includes("PONG") && !accepted.includes("-ERR"), `the right credentials got: ${accepted}`);
          assertEquals((await getJson(`http://127.0.0.1:${apiPort}/v1/cluster`, "wrong-token")).status, 401);
        },
      );

      await t.step("the image's HEALTHCHECK passes in both Coop containers", async () => {
        for (const name of [names.coordinator, names.agent]) {
          const result = await podman(["healthcheck", "run", name], { check: false });
          assertEquals(result.code, 0, `healthcheck of ${name}: ${result.stdout}${result.stderr}`);
        }
        // and fails where the server it checks does not answer
        const down = await podman([
          "exec",
          "-e",
          "COOP_NATS_URL=nats://127.0.0.1:1",
          names.agent,
          "/app/deploy/entrypoint.sh",
          "healthcheck",
        ], { check: false });
        assertEquals(down.code, 1, `healthcheck against a dead server: ${down.stdout}${down.stderr}`);
      });

      await t.step(
        "Dockerfile.cuda builds on a stand-in CUDA base (provider download skipped: no NuGet here)",
        async () => {
          await timed("cuda build", () =>
            buildImage("Dockerfile.cuda", CUDA_IMAGE, {
              buildArgs: { CUDA_IMAGE: BASE_IMAGE, ORT_NODE_INSTALL: "skip" },
              noCache: inCi(),
            }));
          const probe = await podman(["run", "--rm", ...RUN_FLAGS, CUDA_IMAGE, "sh", "-c", "id -u; deno --version"]);
          assert(probe.stdout.startsWith("10001\n") && probe.stdout.includes("deno 2."), probe.stdout);
          const image = JSON.parse((await podman(["image", "inspect", CUDA_IMAGE])).stdout)[0];
          assertEquals(image.Config.Cmd?.[0], "agent");
        },
      );
    } catch (error) {
      for (const name of Object.values(names)) {
        const logs = await podman(["logs", "--tail", "40", name], { check: false });
        console.error(`--- ${name} ---\n${logs.stdout}${logs.stderr}`);
      }
      throw error;
    } finally {
      await timed("cleanup", async () => {
        await podman(["rm", "-f", "-t", "5", ...Object.values(names)], { check: false });
        await podman(["network", "rm", "-f", network], { check: false });
        // CI builds from scratch and leaves the previous images untagged (podman here serves only this test);
        // outside CI the untagged layers are the build cache, so they stay.
        if (inCi()) await podman(["image", "prune", "-f"], { check: false });
      });
      console.log(`  base image ${base.rebuilt ? "rebuilt" : "reused"}; ${timings.join("; ")}`);
    }
  },
});

/**
 * `--add-host NAME:IP` for a container on `network`. Podman 4 with CNI and no dnsname plugin (Debian's podman here)
 * creates networks with dns_enabled false, so `--network-alias` names do not resolve: containers addressing NATS as
 * `nats` (as compose.yaml does) waited for it forever, silently — the cause of this test's failures. The address is
 * read from the running container instead, which holds with or without container DNS.
 */
async function hostEntry(container: string, network: string, name: string): Promise<string> {
  const format = `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`;
  const ip = (await podman(["inspect", "--format", format, container])).stdout.trim();
  assert(/^\d+\.\d+\.\d+\.\d+$/.test(ip), `no IPv4 address of ${container} on ${network}: "${ip}"`);
  return `--add-host=${name}:${ip}`;
}

async function getJson(url: string, token: string) {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  // deno-lint-ignore no-explicit-any
  const body: any = await response.json();
  return { status: response.status, body };
}

/** Speaks the first lines of the NATS client protocol (CONNECT + PING) and returns what the server answered. */
async function natsHandshake(port: number, auth: Record<string, string>): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(65536);
    let seen = "";
    const readMore = async () => {
      const n = await conn.read(buffer);
      if (n === null) return false;
      seen += decoder.decode(buffer.subarray(0, n));
      return true;
    };
    while (!seen.includes("\r\n") && await readMore());
    const connect = JSON.stringify({ verbose: false, pedantic: false, protocol: 1, name: "coop-auth-probe", ...auth });
    await conn.write(new TextEncoder().encode(`CONNECT ${connect}\r\nPING\r\n`));
    const deadline = Date.now() + 5000;
    while (!/PONG|-ERR/.test(seen) && Date.now() < deadline) {
      if (!(await readMore().catch(() => false))) break;
    }
    return seen.slice(seen.indexOf("\r\n") + 2);
  } finally {
    try {
      conn.close();
    } catch { /* closed by the server */ }
  }
}
