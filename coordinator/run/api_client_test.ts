import { ConflictError } from "../http/mod.ts";
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";

import { NotFoundError } from "../../shared/errors.ts";
import { ApiClient } from "./api_client.ts";

/** Serves `chunks` as one SSE response (each chunk written separately), plus JSON error routes. */
function serve(chunks: string[]): { client: ApiClient; close: () => Promise<void> } {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/missing") {
      return Response.json({ error: { name: "NotFoundError", message: 'Run "x"' } }, { status: 404 });
    }
    if (path === "/conflict") {
      return Response.json({ error: { name: "ConflictError", message: "ended" } }, { status: 409 });
    }
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        for (const chunk of chunks) {
          controller.enqueue(new TextEncoder().encode(chunk));
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  const port = (server.addr as Deno.NetAddr).port;
  return { client: new ApiClient(`http://127.0.0.1:${port}`, "t"), close: () => server.shutdown() };
}

Deno.test("ApiClient - SSE with CRLF, CR and LF line ends, comments, split chunks and multi-line data", async () => {
  const { client, close } = serve([
    ": keep-alive comment\r\n\r\n",
    'event: metric\r\ndata: {"step":1}\r\n\r',
    '\nevent: metric\rdata: {"step"',
    ":2}\r\rdata: line one\ndata: line two\n\n",
    'event: status\ndata: {"state":"finished"}\n\n',
  ]);
  try {
    const events = [];
    for await (const event of client.events("/stream")) events.push(event);
    deepStrictEqual(events, [
      { event: "metric", data: '{"step":1}' },
      { event: "metric", data: '{"step":2}' },
      { event: "message", data: "line one\nline two" },
      { event: "status", data: '{"state":"finished"}' },
    ]);
  } finally {
    await close();
  }
});

Deno.test("ApiClient - API errors keep their class and name the request", async () => {
  const { client, close } = serve([]);
  try {
    await rejects(client.get("/missing"), (e: Error) => e instanceof NotFoundError && e.message.includes('"x"'));
    await rejects(client.post("/conflict", {}), (e: Error) => e instanceof ConflictError && e.message.includes("409"));
  } finally {
    await close();
  }
  const unreachable = new ApiClient("http://127.0.0.1:9");
  const error = await unreachable.runs().catch((e) => e as Error);
  ok(error instanceof Error);
  strictEqual(error.name, "CoopError");
  ok(error.message.includes("http://127.0.0.1:9"), error.message);
});
