/**
 * Container healthcheck (`entrypoint.sh healthcheck`): a coordinator is healthy when its API answers `/healthz`;
 * an agent is healthy while it runs and its NATS server accepts TCP connections (the agent reconnects by itself,
 * so a failing check points at the network or the server, which is what an operator needs to see).
 */
const TIMEOUT_MS = 4000;

/** The `coop` subcommand of the Coop process in this container ("up" or "agent"), found by scanning /proc so the
 * check works whether Coop is PID 1 or runs under an init (compose `init: true`, tini). */
function coopRole(): string {
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const args = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      const cli = args.findIndex((arg) => arg.endsWith("coordinator/cli.ts"));
      if (cli >= 0) return args[cli + 1] ?? "";
    } catch { /* exited meanwhile, or not ours to read */ }
  }
  return "";
}

async function checkCoordinator(): Promise<string | null> {
  const port = Deno.env.get("COOP_API_PORT") ?? "8470";
  const token = Deno.env.get("COOP_API_TOKEN");
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  await response.body?.cancel();
  return response.ok ? null : `GET /healthz answered ${response.status}`;
}

async function checkNats(): Promise<string | null> {
  const first = (Deno.env.get("COOP_NATS_URL") ?? "nats://127.0.0.1:4222").split(",")[0]!.trim();
  const url = new URL(first.includes("://") ? first : `nats://${first}`);
  const port = Number(url.port || 4222);
  const conn = await Promise.race([
    Deno.connect({ hostname: url.hostname, port }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error("connect timed out")), TIMEOUT_MS)),
  ]);
  conn.close();
  return null;
}

const role = coopRole();
try {
  const problem = role === "up" ? await checkCoordinator() : await checkNats();
  if (problem) {
    console.error(`unhealthy (${role || "unknown role"}): ${problem}`);
    Deno.exit(1);
  }
  console.log(`healthy (${role || "unknown role"})`);
  Deno.exit(0);
} catch (error) {
  console.error(`unhealthy (${role || "unknown role"}): ${error instanceof Error ? error.message : error}`);
  Deno.exit(1);
}
