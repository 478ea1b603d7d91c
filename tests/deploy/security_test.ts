/**
 * NATS security end to end, through deploy/entrypoint.sh as deployed: a nats-server that demands mutual TLS and
 * an NKey, two Coop clusters ("alpha", "beta") sharing it, each a coordinator and an agent; actor hosts inherit
 * the settings. An actor spawned in alpha runs on alpha's agent, each API sees only its own cluster, and clients
 * without the client certificate or without the NKey are refused. Loopback only: needs neither root nor podman.
 */
import { rejects, strictEqual as assertEquals } from "node:assert/strict";
import { nkeys } from "@nats-io/transport-node";
import { connectNats } from "../../shared/nats_transport.ts";
import { ManagedProcess } from "../../coordinator/local/mod.ts";
import { freePort } from "../harness.ts";
import { makeCertificates } from "./certs.ts";
import { clientAnswer, type NodeSummary } from "./cluster_env.ts";
import { denoPath, ensureCommands, ROOT, run, waitFor } from "./host.ts";

const skip = await ensureCommands({ openssl: "openssl" });
if (skip) console.error(`SKIP tests/deploy/security_test.ts: ${skip}`);

Deno.test({
  name: "security - mutual TLS + NKey for every process; two clusters share one NATS server without seeing each other",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coop-security-" });
    const children: ManagedProcess[] = [];
    const spawn = (name: string, cmd: string, args: string[], env: Record<string, string>) => {
      children.push(new ManagedProcess(name, cmd, args, { env, cwd: ROOT }));
    };
    try {
      await makeCertificates(dir, [
        { name: "server", commonName: "server", san: "DNS:localhost,IP:127.0.0.1", usage: "serverAuth" },
        { name: "client", commonName: "client", san: "DNS:coop-client", usage: "clientAuth" },
      ]);
      const user = nkeys.createUser();
      await Deno.writeTextFile(`${dir}/user.nk`, new TextDecoder().decode(user.getSeed()));
      await Deno.chmod(`${dir}/user.nk`, 0o600);
      const port = freePort();
      await Deno.writeTextFile(
        `${dir}/nats.conf`,
        [
          `listen: 127.0.0.1:${port}`,
          "max_payload: 8388608",
          `jetstream { store_dir: "${dir}/js" }`,
          `tls { cert_file: "${dir}/server.pem", key_file: "${dir}/server-key.pem", ca_file: "${dir}/ca.pem", verify: true }`,
          `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }`,
        ].join("\n"),
      );
      spawn("nats", "nats-server", ["-c", `${dir}/nats.conf`], {});
      await waitFor("nats-server", async () => {
        (await Deno.connect({ port })).close();
        return true;
      });

      const secure = {
        COOP_DENO: denoPath(),
        COOP_NATS_URL: `tls://127.0.0.1:${port}`,
        COOP_NATS_TLS_CA: `${dir}/ca.pem`,
        COOP_NATS_TLS_CERT: `${dir}/client.pem`,
        COOP_NATS_TLS_KEY: `${dir}/client-key.pem`,
        COOP_NATS_NKEY_SEED_FILE: `${dir}/user.nk`,
      };
      const apiPorts: Record<string, number> = {};
      for (const cluster of ["alpha", "beta"]) {
        apiPorts[cluster] = freePort();
        spawn(`${cluster}-coordinator`, `${ROOT}/deploy/entrypoint.sh`, ["coordinator"], {
          ...secure,
          COOP_CLUSTER: cluster,
          COOP_API_PORT: String(apiPorts[cluster]),
          COOP_API_HOST: "127.0.0.1",
        });
        spawn(`${cluster}-agent`, `${ROOT}/deploy/entrypoint.sh`, ["agent"], {
          ...secure,
          COOP_CLUSTER: cluster,
          COOP_NODE_ID: `${cluster}-node`,
          COOP_AGENT_CPUS: "1",
        });
      }
      const nodes = async (cluster: string) => {
        const response = await fetch(`http://127.0.0.1:${apiPorts[cluster]}/v1/nodes`);
        return ((await response.json()) as { nodes: NodeSummary[] }).nodes.map((n) => n.id);
      };
      for (const cluster of ["alpha", "beta"]) {
        await waitFor(`${cluster}'s agent`, async () => (await nodes(cluster)).length > 0 || undefined, {
          timeoutMs: 60_000,
        });
      }
      assertEquals((await nodes("alpha")).join(), "alpha-node");
      assertEquals((await nodes("beta")).join(), "beta-node");

      const client = async (args: string[]) =>
        clientAnswer<{ nodeId?: string; value?: number }>(
          await run(denoPath(), ["run", "-A", `${ROOT}/tests/deploy/client.ts`, ...args], {
            env: { ...secure, COOP_CLUSTER: "alpha" },
            check: false,
          }),
        );
      assertEquals((await client(["spawn", "secure-counter"])).nodeId, "alpha-node");
      assertEquals((await client(["call", "secure-counter", "incr", "2"])).value, 2);
      const betaActors = await (await fetch(`http://127.0.0.1:${apiPorts.beta}/v1/actors`)).json();
      assertEquals(betaActors.actors.length, 0, "an actor of alpha shows up in beta");

      const tls = { caFile: `${dir}/ca.pem` };
      const seed = new TextDecoder().decode(user.getSeed());
      await rejects(connectNats({ servers: `tls://127.0.0.1:${port}`, tls, nkeySeed: seed }));
      await rejects(
        connectNats({
          servers: `tls://127.0.0.1:${port}`,
          tls: { ...tls, certFile: `${dir}/client.pem`, keyFile: `${dir}/client-key.pem` },
        }),
        /authorization refused/,
      );
      const good = await connectNats({
        servers: `tls://127.0.0.1:${port}`,
        tls: { ...tls, certFile: `${dir}/client.pem`, keyFile: `${dir}/client-key.pem` },
        nkeySeed: seed,
      });
      await good.close();
    } catch (error) {
      for (const { name, output } of children) console.error(`--- ${name} ---\n${output.slice(-40).join("\n")}`);
      throw error;
    } finally {
      for (const child of children.reverse()) await child.stop(5000);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
