import { ok, strictEqual } from "node:assert";
import type { Cluster } from "../../actors/core/cluster.ts";
import { createApp } from "../api.ts";
import { RunManager } from "./manager.ts";
import { checkPath, PathError, type PathRoots, rootsFromEnv } from "./paths.ts";
import { runsRouter } from "./router.ts";
import { EMPTY_API_DEPS } from "../api_test_deps.ts";

const deps = EMPTY_API_DEPS;

/** A deployment dir with data/, models/, runs/, a task file, a symlink out of data/ and an oversized file. */
async function deployment(): Promise<{ dir: string; roots: PathRoots }> {
  const dir = await Deno.makeTempDir({ prefix: "coop-paths-" });
  for (const sub of ["data", "models/tiny", "runs/old/step-2"]) await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
  await Deno.writeTextFile(`${dir}/data/tasks.jsonl`, '{"question":"1+1?","answer":"2"}\n');
  await Deno.writeTextFile(`${dir}/data/big.jsonl`, "x".repeat(4096));
  await Deno.symlink("/etc/passwd", `${dir}/data/passwd.jsonl`);
  await Deno.symlink("/tmp", `${dir}/runs/escape`);
  const roots = rootsFromEnv(new Map<string, string>([["COOP_MAX_FILE_MB", String(2048 / 2 ** 20)]]), dir);
  return { dir, roots };
}

function rl(overrides: Record<string, unknown>): Record<string, unknown> {
  return { kind: "rl", name: "p", steps: 1, data: { source: "builtin" }, checkpoint: { dir: "runs/p" }, ...overrides };
}

Deno.test("paths - configs naming files outside the roots get a 400 before any read, with nothing revealed", async () => {
  const { dir, roots } = await deployment();
  const cwd = Deno.cwd();
  Deno.chdir(dir);
  try {
    const manager = new RunManager(null as unknown as Cluster);
    const app = createApp(deps, { routers: { "/v1/runs": runsRouter(manager, { roots }) } });
    const post = async (body: unknown) => {
      const response = await app.request("/v1/runs", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: response.status, message: (await response.json()).error?.message as string };
    };
    const cases: [string, unknown, string][] = [
      ["/dev/zero", { config: rl({ data: { source: "gsm8k", path: "/dev/zero" } }) }, "data.path: must be inside"],
      ["/etc/passwd", { config: rl({ data: { source: "gsm8k", path: "/etc/passwd" } }) }, "data.path: must be inside"],
      ["a missing file outside", { config: rl({ data: { source: "gsm8k", path: "/etc/nope" } }) }, "must be inside"],
      ["../x", { config: rl({ data: { source: "math", path: "../x" } }) }, "data.path: must be inside"],
      ["data/../../x", { config: rl({ eval: { path: "data/../../x" } }) }, "eval.path: must be inside"],
      ["a symlink out of data/", { config: rl({ data: { source: "gsm8k", path: "data/passwd.jsonl" } }) }, "inside"],
      ["a directory as data", { config: rl({ data: { source: "gsm8k", path: "data" } }) }, "not a regular file"],
      ["a file over the cap", { config: rl({ data: { source: "gsm8k", path: "data/big.jsonl" } }) }, "limit of 2048"],
      ["checkpoint.dir /tmp/outside", { config: rl({ checkpoint: { dir: "/tmp/outside" } }) }, "checkpoint.dir"],
      ["checkpoint.dir through a symlink", { config: rl({ checkpoint: { dir: "runs/escape/x" } }) }, "must be inside"],
      ["a model outside", { config: rl({ policy: { checkpoint: "/etc" } }) }, "policy.checkpoint: must be inside"],
      ["a tokenizer outside", { config: rl({ rewardModel: { tokenizer: "/etc/hosts" } }) }, "rewardModel.tokenizer"],
      ["resume outside", { config: rl({}), resume: "/tmp" }, "resume: must be inside"],
    ];
    for (const [what, body, expected] of cases) {
      const { status, message } = await post(body);
      strictEqual(status, 400, `${what}: ${status} ${message}`);
      ok(message.includes(expected), `${what}: ${message}`);
      ok(!message.includes("root:") && !message.includes("does not exist"), `${what} reveals nothing: ${message}`);
    }
    // The same refusal whether or not the outside path exists.
    strictEqual((await post(cases[1]![1])).message, (await post(cases[2]![1])).message.replace("nope", "passwd"));
    strictEqual(manager.list().length, 0, "no run was started");
  } finally {
    Deno.chdir(cwd);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("paths - paths inside the roots pass and resolve to real paths", async () => {
  const { dir, roots } = await deployment();
  try {
    const spec = (kind: "data" | "models" | "runs", shape: "file" | "entry" | "dir" | "new") => ({
      kind,
      shape,
      roots,
    });
    strictEqual(
      checkPath("data.path", "data/tasks.jsonl", spec("data", "file"), { cwd: dir }),
      `${dir}/data/tasks.jsonl`,
    );
    strictEqual(checkPath("m", `${dir}/models/tiny`, spec("models", "entry"), { cwd: dir }), `${dir}/models/tiny`);
    strictEqual(checkPath("resume", "runs/old/step-2", spec("runs", "dir"), { cwd: dir }), `${dir}/runs/old/step-2`);
    strictEqual(checkPath("checkpoint.dir", "runs/new/a", spec("runs", "new"), { cwd: dir }), `${dir}/runs/new/a`);
    let error: unknown;
    try {
      checkPath("data.path", "data/missing.jsonl", spec("data", "file"), { cwd: dir });
    } catch (e) {
      error = e;
    }
    ok(error instanceof PathError && /does not exist inside the data roots/.test(error.message), String(error));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("paths - a runs root that does not exist yet (a fresh clone) still takes new checkpoint dirs, nothing outside", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-paths-fresh-" });
  const roots = rootsFromEnv(new Map<string, string>(), dir);
  const real = Deno.realPathSync(dir);
  strictEqual(
    checkPath("checkpoint.dir", "runs/a", { kind: "runs", shape: "new", roots }, { cwd: dir }),
    `${real}/runs/a`,
  );
  let refused: unknown;
  try {
    checkPath("checkpoint.dir", "../outside", { kind: "runs", shape: "new", roots }, { cwd: dir });
  } catch (error) {
    refused = error;
  }
  ok(refused instanceof PathError, `expected a PathError, got ${refused}`);
  await Deno.remove(dir, { recursive: true });
});
