/**
 * Auth as deployed: nats-server with the shipped deploy/nats/nats.conf refuses clients without (or with wrong)
 * credentials and accepts the configured user; a coordinator started through deploy/entrypoint.sh answers 401 to
 * a missing or wrong API token. Runs on loopback, so it needs neither root nor containers.
 */
import { ok as assert, rejects, strictEqual as assertEquals } from "node:assert/strict";
import { connectNats } from "../../shared/nats_transport.ts";
import { natsConfig, natsServerEnv, newSecrets } from "./cluster_env.ts";
import { denoPath, ROOT, run, waitFor } from "./host.ts";
import { ManagedProcess } from "../../coordinator/local/mod.ts";
import { freePort } from "../harness.ts";

Deno.test({
  name: "auth - NATS refuses missing/wrong credentials; the API answers 401 to a missing or wrong token",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const secrets = newSecrets();
    const work = await Deno.makeTempDir({ prefix: "coop-auth-" });
    const natsPort = freePort();
    const apiPort = freePort();
    const conf = (await natsConfig(`${work}/js`))
      .replace(/^listen: .*$/m, `listen: 127.0.0.1:${natsPort}`)
      .replace(/^http: .*$/m, "");
    await Deno.writeTextFile(`${work}/nats.conf`, conf);
    const children: ManagedProcess[] = [];
    const spawn = (cmd: string, args: string[], env: Record<string, string>) => {
      children.push(new ManagedProcess(cmd.split("/").pop()!, cmd, args, { env, cwd: ROOT }));
    };
    try {
      spawn("nats-server", ["-c", `${work}/nats.conf`], natsServerEnv(secrets));
      const url = `nats://127.0.0.1:${natsPort}`;
      await waitFor("nats-server to listen", async () => {
        (await Deno.connect({ port: natsPort })).close();
        return true;
      });

      await rejects(connectNats({ servers: url }), (error: Error) => {
        assert(/authorization refused/.test(error.message), error.message);
        return true;
      });
      await rejects(connectNats({ servers: url, user: "coop", password: "wrong" }), /authorization refused/);
      await rejects(connectNats({ servers: url, token: secrets.natsPassword }), /authorization refused/);
      const good = await connectNats({ servers: url, user: secrets.natsUser, password: secrets.natsPassword });
      await good.close();

      spawn(`${ROOT}/deploy/entrypoint.sh`, ["coordinator"], {
        COOP_DENO: denoPath(),
        COOP_NATS_URL: url,
        COOP_NATS_USER: secrets.natsUser,
        COOP_NATS_PASSWORD: secrets.natsPassword,
        COOP_API_TOKEN: secrets.apiToken,
        COOP_API_PORT: String(apiPort),
        COOP_API_HOST: "127.0.0.1",
      });
      const api = `http://127.0.0.1:${apiPort}`;
      const get = async (path: string, token?: string) => {
        const response = await fetch(`${api}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        return { status: response.status, body: await response.json() };
      };
      await waitFor("the coordinator API", async () => (await get("/healthz")).status === 200 || undefined, {
        timeoutMs: 60_000,
      });
      assertEquals((await get("/v1/cluster")).status, 401);
      const wrong = await get("/v1/cluster", "not-the-token");
      assertEquals(wrong.status, 401);
      assertEquals(wrong.body.error.name, "UnauthorizedError");
      assertEquals((await get("/v1/nodes", secrets.apiToken.slice(0, -1))).status, 401);
      const right = await get("/v1/cluster", secrets.apiToken);
      assertEquals(right.status, 200);
      assert(Array.isArray(right.body.nodes));
      // `entrypoint.sh status` (coop status) authenticates with COOP_API_TOKEN the same way
      const status = (token: string) =>
        run(`${ROOT}/deploy/entrypoint.sh`, ["status", "--api", api], {
          env: { COOP_DENO: denoPath(), COOP_API_TOKEN: token },
          check: false,
        });
      assertEquals((await status(secrets.apiToken)).code, 0);
      const refused = await status("wrong");
      assert(refused.code !== 0 && refused.stderr.includes("401"), refused.stderr);
    } catch (error) {
      for (const { name, output } of children) console.error(`--- ${name} ---\n${output.slice(-40).join("\n")}`);
      throw error;
    } finally {
      for (const child of children.reverse()) await child.stop(5000);
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});
