import { startNats } from "../harness.ts";

Deno.test("harness - starts and stops a real nats-server on a free port", async () => {
  const server = await startNats();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    conn.close();
    const info = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    if (!info.startsWith("INFO ")) throw new Error(`Expected an INFO line, got: ${info}`);
  } finally {
    await server.stop();
  }
});
