/**
 * The runs API and `coop run` reject bad input before anything starts: invalid configs get a 400 that names the
 * field, unknown runs a 404, and the CLI exits 1 with the field in its message.
 */
import { ok, strictEqual } from "node:assert";
import { fileURLToPath } from "node:url";
import type { Cluster } from "../../actors/core/cluster.ts";
import { createApp } from "../../coordinator/api.ts";
import { RunManager } from "../../coordinator/run/manager.ts";
import { runsRouter } from "../../coordinator/run/router.ts";
import { EMPTY_API_DEPS } from "../../coordinator/api_test_deps.ts";

const deps = EMPTY_API_DEPS;

// Bad configs never reach the cluster, so the manager gets none.
const app = createApp(deps, { routers: { "/v1/runs": runsRouter(new RunManager(null as unknown as Cluster)) } });

async function post(body: string): Promise<{ status: number; message: string }> {
  const response = await app.request("/v1/runs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  const json = await response.json();
  return { status: response.status, message: json.error?.message ?? "" };
}

Deno.test("runs API - invalid configs are rejected with a 400 naming the field", async () => {
  const cases: [unknown, string][] = [
    [{ config: { mode: "coopr" } }, "mode"],
    [{ config: "maxStalness: 1\n" }, '"maxStalness"'],
    [{ config: { grpo: { samplesPerPrompt: 1 } } }, "grpo.samplesPerPrompt"],
    [{ config: { rollout: { count: -1 } } }, "rollout.count"],
    [{ config: { kind: "dance" } }, "kind"],
    [{ config: "steps: [unclosed" }, "YAML"],
    [{ resume: "x" }, "config"],
  ];
  for (const [body, field] of cases) {
    const { status, message } = await post(JSON.stringify(body));
    strictEqual(status, 400, JSON.stringify(body));
    ok(message.includes(field), `${JSON.stringify(body)} -> ${message}`);
  }
  const malformed = await post("{not json");
  strictEqual(malformed.status, 400);
  ok(malformed.message.includes("Malformed JSON"), malformed.message);
  const empty = await post("");
  strictEqual(empty.status, 400);
  ok(empty.message.includes("Malformed JSON"), empty.message);
});

Deno.test("runs API - an oversized body is a 413 naming the limit, declared or streamed", async () => {
  const big = JSON.stringify({ config: "x".repeat(2 * 1024 * 1024) });
  const declared = await post(big);
  strictEqual(declared.status, 413);
  ok(declared.message.includes("1048576 bytes"), declared.message);
  // Without a content-length (chunked), the body is counted as it streams.
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(big));
      controller.close();
    },
  });
  const response = await app.request("/v1/runs", {
    method: "POST",
    headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    body,
    duplex: "half",
  } as RequestInit);
  strictEqual(response.status, 413);
  strictEqual((await response.json()).error.name, "PayloadTooLargeError");
});

Deno.test("runs API - unknown runs are 404s", async () => {
  for (
    const [method, path] of [
      ["GET", "/v1/runs/nope"],
      ["GET", "/v1/runs/nope/metrics"],
      ["POST", "/v1/runs/nope/stop"],
      ["POST", "/v1/runs/nope/resume"],
    ]
  ) {
    const response = await app.request(path!, { method });
    strictEqual(response.status, 404);
    ok((await response.json()).error.message.includes('"nope"'));
  }
  const list = await app.request("/v1/runs");
  strictEqual(list.status, 200);
  strictEqual((await list.json()).runs.length, 0);
});

Deno.test("coop run - a bad config file exits 1 naming the field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-run-cli-" });
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, "kind: rl\ngrpo:\n  clipRatio: 2\n");
    const cli = fileURLToPath(new URL("../../coordinator/cli.ts", import.meta.url));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", cli, "run", `${dir}/bad.yaml`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    strictEqual(out.code, 1);
    const stderr = new TextDecoder().decode(out.stderr);
    ok(stderr.includes("grpo.clipRatio"), stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("coop run --local - the README's GSM8K example runs end to end on an embedded cluster", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-run-local-" });
  try {
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const cli = fileURLToPath(new URL("../../coordinator/cli.ts", import.meta.url));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        cli,
        "run",
        "rl/configs/gsm8k.json",
        "--local",
        "--set",
        "steps=1",
        "--set",
        `checkpoint.dir=${dir}`,
      ],
      cwd: root,
      // Checkpoints outside the repository: allowed by widening the run roots, as a user would.
      env: { COOP_ROOTS_RUNS: dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    strictEqual(out.code, 0, stderr.slice(-3000));
    const status = JSON.parse(new TextDecoder().decode(out.stdout));
    strictEqual(status.state, "finished", JSON.stringify(status).slice(0, 2000));
    strictEqual(status.step, 1);
    ok(status.checkpoint.startsWith(dir), status.checkpoint);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
