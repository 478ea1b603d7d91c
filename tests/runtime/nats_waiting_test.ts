/**
 * A process that cannot reach NATS says so within seconds, with the URL, and keeps saying it while it retries;
 * once the server is up it connects. Real nats-server, started late on the port the client already waits for.
 */
import { ok, strictEqual } from "node:assert";
import { connectNats } from "../../shared/nats_transport.ts";
import { freePort, startNats } from "../harness.ts";

Deno.test("connectNats - waiting for an unreachable server is reported with the URL until it comes up", async () => {
  const port = freePort();
  const reports: { servers: string[]; waitedMs: number }[] = [];
  const connecting = connectNats({
    servers: `nats://127.0.0.1:${port}`,
    waitOnFirstConnect: true,
    waitingReportMs: 200,
    reconnectTimeWaitMs: 100,
    onWaiting: (info) => reports.push(info),
  });
  await new Promise((resolve) => setTimeout(resolve, 900));
  ok(reports.length >= 2, `reports while waiting: ${reports.length}`);
  ok(reports.every((r) => r.servers.includes(`nats://127.0.0.1:${port}`)));
  ok(reports.at(-1)!.waitedMs > reports[0]!.waitedMs);
  const server = await startNats({ port });
  try {
    const transport = await connecting;
    const seen = reports.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    strictEqual(reports.length, seen, "reports stop once connected");
    await transport.close();
  } finally {
    await server.stop();
  }
});
