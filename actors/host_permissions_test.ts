import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { HOST_ENV_VARS, hostCommand, hostPermissionFlags, natsHostPort } from "./host_permissions.ts";
import { NATS_ENV_VARS } from "../shared/mod.ts";

Deno.test("host permissions - net to the NATS hosts, read/write to the listed dirs, env by name, ffi", () => {
  strictEqual(natsHostPort("nats://10.0.0.5:4333"), "10.0.0.5:4333");
  strictEqual(natsHostPort("tls://nats.example"), "nats.example:4222");
  strictEqual(natsHostPort("127.0.0.1:5000"), "127.0.0.1:5000");
  const flags = hostPermissionFlags({
    natsServers: ["nats://a:1", "nats://b:2", "nats://a:1"],
    netHosts: ["peer"],
    read: ["/code", "/data"],
    write: ["/runs"],
    env: ["COOP_NATS_URL"],
  });
  strictEqual(flags[0], "--allow-net=a:1,b:2,peer");
  strictEqual(flags[1], "--allow-read=/code,/data,/runs");
  strictEqual(flags[2], "--allow-write=/runs");
  ok(flags[3]!.startsWith("--allow-env=") && flags[3]!.includes("COOP_NATS_URL"));
  ok(flags.includes("--allow-ffi"));
  ok(!flags.some((f) => f === "-A" || f.startsWith("--allow-run") || f.startsWith("--allow-all")));
});

Deno.test("host permissions - the host's environment holds only what it reads, and the roots decide read/write", () => {
  const env = {
    COOP_NATS_URL: "nats://127.0.0.1:4999",
    COOP_ROOTS_DATA: "/srv/data",
    COOP_ROOTS_MODELS: "/srv/models",
    COOP_ROOTS_RUNS: "/srv/runs",
    COOP_WEIGHTS_DIR: "/dev/shm/coop",
    COOP_WEIGHTS_URL: "tcp://10.1.2.3:7000",
    COOP_API_TOKEN: "secret",
    HOME: "/root",
    COOP_HOST_ALLOW_NET: "10.1.2.4",
  };
  const command = hostCommand({ env, registry: ["/srv/actors/mine.ts"] });
  strictEqual(command.env.COOP_API_TOKEN, undefined, "the agent's other settings stay with the agent");
  strictEqual(command.env.COOP_NATS_URL, env.COOP_NATS_URL);
  strictEqual(command.env.HOME, "/root", "the runtime's own variables are passed on");
  const flag = (name: string) => command.flags.find((f) => f.startsWith(`--allow-${name}=`))!.split("=")[1]!.split(",");
  deepStrictEqual(flag("net"), ["127.0.0.1:4999", "10.1.2.3", "10.1.2.4"]);
  for (const dir of ["/srv/data", "/srv/models", "/srv/runs", "/dev/shm/coop", "/srv/actors"]) {
    ok(flag("read").includes(dir), `reads ${dir}`);
  }
  deepStrictEqual(flag("write"), ["/srv/runs", "/dev/shm/coop"]);
  ok(!flag("env").includes("HOME") && !flag("env").includes("COOP_API_TOKEN"));
  deepStrictEqual(hostCommand({ env, registry: [], all: true }).flags, ["-A", "--no-prompt"]);
});

Deno.test("host permissions - every variable the host-side code reads is in the host's --allow-env list", async () => {
  // A variable read with Deno.env.get but not listed throws NotCapable in a sandboxed host (and kills it).
  const agentOnly = new Set(["COOP_WEIGHTS_LISTEN", "COOP_WEIGHTS_ADVERTISE", "COOP_HOST_PERMISSIONS"]);
  const allowed = new Set<string>([...HOST_ENV_VARS, ...NATS_ENV_VARS]);
  const missing: string[] = [];
  for (const dir of ["actors", "engine", "rl", "shared"]) {
    for await (const path of tsFiles(new URL(`../${dir}/`, import.meta.url).pathname)) {
      if (path.endsWith("_test.ts") || path.endsWith("/agent.ts")) continue;
      const text = await Deno.readTextFile(path);
      if (!text.includes("Deno.env.get(")) continue;
      for (const [, name] of text.matchAll(/"((?:COOP|CUDA|OMP)_[A-Z0-9_]+)"/g)) {
        if (!allowed.has(name!) && !agentOnly.has(name!)) missing.push(`${name} (${path})`);
      }
    }
  }
  deepStrictEqual(missing, []);
});

async function* tsFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) yield* tsFiles(`${path}/`);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}
