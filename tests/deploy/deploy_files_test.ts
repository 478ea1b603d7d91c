/**
 * The deploy files a user runs but that cannot run here (compose needs a Docker engine, the manifests a
 * Kubernetes cluster, the production NATS config three servers): parsed, cross-checked against each other and
 * against what the processes read, and validated by the real tools where they exist (nats-server -t, kubectl
 * kustomize, shellcheck, systemd-analyze).
 */
import { deepStrictEqual, ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { NATS_ENV_VARS } from "../../shared/nats_options.ts";
import { makeCertificates } from "./certs.ts";
import { ensureCommands, have, ROOT, run } from "./host.ts";
import { BASE_IMAGE } from "./podman.ts";

const DEPLOY = `${ROOT}/deploy`;
// The checkers, installed when root (CI); a check whose tool is still missing is skipped, nats-server and openssl
// are required.
const missingTools = await ensureCommands({ openssl: "openssl", shellcheck: "shellcheck" });
if (missingTools) console.error(`tests/deploy/deploy_files_test.ts: ${missingTools}`);
// deno-lint-ignore no-explicit-any
type Doc = any;

/** Every COOP_* variable a deployed process reads: the entrypoint's list plus the NATS client settings. */
async function knownVariables(): Promise<Set<string>> {
  const entrypoint = await Deno.readTextFile(`${DEPLOY}/entrypoint.sh`);
  const names = new Set(entrypoint.match(/COOP_[A-Z_]+/g) ?? []);
  for (const name of NATS_ENV_VARS) names.add(name);
  names.add("COOP_API_TOKEN");
  return names;
}

function checkEnv(where: string, names: Iterable<string>, known: Set<string>) {
  for (const name of names) {
    if (name.startsWith("COOP_")) assert(known.has(name), `${where} sets ${name}, which no Coop process reads`);
  }
}

Deno.test("deploy files - compose.yaml: NATS with config and auth, coordinator API, two CPU agents, GPU profile", async () => {
  const compose: Doc = parseYaml(await Deno.readTextFile(`${DEPLOY}/compose.yaml`), { merge: true });
  const services = compose.services;
  deepStrictEqual(Object.keys(services).sort(), ["agent-1", "agent-2", "agent-gpu", "coordinator", "nats"]);
  const known = await knownVariables();

  const nats = services.nats;
  assert(nats.command.includes("/etc/nats/nats.conf"));
  const mount = nats.volumes.find((v: string) => v.includes("/etc/nats/nats.conf"));
  await Deno.stat(`${DEPLOY}/${mount.split(":")[0]}`);
  assert(nats.healthcheck.test.join(" ").includes("/healthz"));

  assertEquals(services.coordinator.command[0], "coordinator");
  assert(services.coordinator.ports.some((p: string) => p.endsWith(":8470")));
  assert(services.coordinator.environment.COOP_API_TOKEN.includes("COOP_API_TOKEN"));
  await Deno.stat(`${DEPLOY}/${services.coordinator.build.context}/${services.coordinator.build.dockerfile}`);
  await Deno.stat(`${DEPLOY}/${services["agent-gpu"].build.context}/${services["agent-gpu"].build.dockerfile}`);

  for (const [name, service] of Object.entries<Doc>(services)) {
    if (name === "nats") continue;
    checkEnv(`compose service ${name}`, Object.keys(service.environment), known);
    assertEquals(service.environment.COOP_NATS_URL, "nats://nats:4222", name);
    assert(service.environment.COOP_NATS_PASSWORD, `${name} has no NATS credentials`);
    assertEquals(service.depends_on.nats.condition, "service_healthy", name);
  }
  for (const name of ["agent-1", "agent-2"]) {
    assertEquals(services[name].command[0], "agent");
    assertEquals(services[name].profiles, undefined, `${name} must start without a profile`);
  }
  const gpu = services["agent-gpu"];
  deepStrictEqual(gpu.profiles, ["gpu"]);
  const device = gpu.deploy.resources.reservations.devices[0];
  assertEquals(device.driver, "nvidia");
  deepStrictEqual(device.capabilities, ["gpu"]);
  assert(gpu.environment.COOP_AGENT_GPUS);
});

Deno.test("deploy files - nats.conf: valid for nats-server, JetStream, auth from the environment, 8 MiB payloads", async () => {
  const path = `${DEPLOY}/nats/nats.conf`;
  const text = await Deno.readTextFile(path);
  assert(/max_payload:\s*8388608/.test(text));
  assert(/jetstream\s*{/.test(text));
  assert(/password:\s*\$NATS_COOP_PASSWORD/.test(text));
  // Quoted as compose hands it over, a password that looks like a number (2e5...) still loads as a string.
  const ok = await run("nats-server", ["-t", "-c", path], { env: { NATS_COOP_PASSWORD: '"2e5ab10c"' }, check: false });
  assertEquals(ok.code, 0, ok.stderr);
  // The password is not in the file: without it the config does not load.
  const unset = await run("env", ["-u", "NATS_COOP_PASSWORD", "nats-server", "-t", "-c", path], { check: false });
  assert(unset.code !== 0, "nats.conf loads without NATS_COOP_PASSWORD");
  const compose: Doc = parseYaml(await Deno.readTextFile(`${DEPLOY}/compose.yaml`), { merge: true });
  assertEquals(compose.services.nats.environment.NATS_COOP_PASSWORD, '"${COOP_NATS_PASSWORD:?set COOP_NATS_PASSWORD}"');
});

Deno.test("deploy files - nats-cluster.conf (production: TLS, accounts, routes) is valid with real certificates", async () => {
  const work = await Deno.makeTempDir({ prefix: "coop-nats-tls-" });
  try {
    await makeCertificates(work, [
      { name: "server", commonName: "n1.nats.internal", san: "DNS:n1.nats.internal", usage: "serverAuth,clientAuth" },
    ]);
    const conf = (await Deno.readTextFile(`${DEPLOY}/nats/nats-cluster.conf`))
      .replaceAll("/etc/nats/tls/", `${work}/`).replace("/var/lib/nats/jetstream", `${work}/js`);
    await Deno.writeTextFile(`${work}/cluster.conf`, conf);
    const env = {
      NATS_SERVER_NAME: "n1",
      NATS_ADMIN_PASSWORD: '"2e5a"',
      COOP_PROD_PASSWORD: '"b"',
      COOP_AGENT_PASSWORD: '"c"',
    };
    const result = await run("nats-server", ["-t", "-c", `${work}/cluster.conf`], { env, check: false });
    assertEquals(result.code, 0, result.stderr);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("deploy files - Kubernetes manifests: references resolve, GPU agents request nvidia.com/gpu, NATS config valid", async () => {
  const kustomization: Doc = parseYaml(await Deno.readTextFile(`${DEPLOY}/k8s/kustomization.yaml`));
  const docs: Doc[] = [];
  for (const file of kustomization.resources) {
    for (const doc of parseAllDocuments(await Deno.readTextFile(`${DEPLOY}/k8s/${file}`))) {
      assertEquals(doc.errors.length, 0, `${file}: ${doc.errors.join("; ")}`);
      const value = doc.toJS();
      assert(value.apiVersion && value.kind && value.metadata?.name, `${file}: a document lacks apiVersion/kind/name`);
      docs.push(value);
    }
  }
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
  const secret = byKind("Secret").find((d) => d.metadata.name === "coop-secrets");
  assert(secret, "no coop-secrets Secret");
  const configMaps = new Set(byKind("ConfigMap").map((d) => d.metadata.name));
  const known = await knownVariables();
  const workloads = docs.filter((d) => ["Deployment", "DaemonSet", "StatefulSet"].includes(d.kind));
  for (const workload of workloads) {
    const spec = workload.spec.template.spec;
    deepStrictEqual(
      workload.spec.selector.matchLabels,
      pickKeys(workload.spec.template.metadata.labels, workload.spec.selector.matchLabels),
    );
    for (const container of spec.containers) {
      const env: Doc[] = container.env ?? [];
      for (const item of env) {
        const ref = item.valueFrom?.secretKeyRef;
        if (ref) {
          assert(ref.key in secret.stringData && ref.name === "coop-secrets", `${workload.metadata.name}: ${ref.key}`);
        }
      }
      if (workload.kind !== "StatefulSet") checkEnv(workload.metadata.name, env.map((e) => e.name), known);
    }
    for (const volume of spec.volumes ?? []) {
      if (volume.configMap) assert(configMaps.has(volume.configMap.name), `missing ConfigMap ${volume.configMap.name}`);
    }
  }
  const coordinator = byKind("Deployment").find((d) => d.metadata.name === "coop-coordinator");
  const service = byKind("Service").find((d) => d.metadata.name === "coop-coordinator");
  assertEquals(service.spec.ports[0].port, 8470);
  deepStrictEqual(service.spec.selector, pickKeys(coordinator.spec.template.metadata.labels, service.spec.selector));
  const gpuAgent = byKind("DaemonSet").find((d) => d.spec.template.spec.nodeSelector?.["nvidia.com/gpu.present"]);
  assert(gpuAgent, "no GPU agent DaemonSet");
  assert(gpuAgent.spec.template.spec.containers[0].resources.limits["nvidia.com/gpu"] >= 1);
  const nats = byKind("StatefulSet").find((d) => d.metadata.name === "coop-nats");
  assertEquals(nats.spec.replicas, 3);
  assert(nats.spec.volumeClaimTemplates[0].spec.resources.requests.storage);

  // The ConfigMap's nats.conf loads in nats-server with the env the pod spec gives it.
  const conf = byKind("ConfigMap").find((d) => d.metadata.name === "coop-nats-config").data["nats.conf"];
  const work = await Deno.makeTempDir({ prefix: "coop-k8s-nats-" });
  try {
    await Deno.writeTextFile(
      `${work}/nats.conf`,
      conf.replace('"/data"', `"${work}/js"`).replace("/var/run/nats/nats.pid", `${work}/nats.pid`),
    );
    const env: Record<string, string> = {
      POD_NAME: "coop-nats-0",
      COOP_NATS_USER: "coop",
      COOP_NATS_PASSWORD: "2e5ab1",
    };
    for (const item of nats.spec.template.spec.containers[0].env) {
      if (item.value) env[item.name] = item.value.replace(/\$\((\w+)\)/g, (_: string, name: string) => env[name] ?? "");
    }
    const result = await run("nats-server", ["-t", "-c", `${work}/nats.conf`], { env, check: false });
    assertEquals(result.code, 0, result.stderr);
  } finally {
    await Deno.remove(work, { recursive: true });
  }

  if (await have("kubectl")) {
    const rendered = await run("kubectl", ["kustomize", `${DEPLOY}/k8s`]);
    const out = parseAllDocuments(rendered.stdout).map((d) => d.toJS());
    assert(out.filter((d) => d.kind !== "Namespace").every((d) => d.metadata.namespace === "coop"));
    assert(rendered.stdout.includes("registry.example.com/coop:latest"));
  } else {
    console.log("  (kubectl not installed: kustomize rendering not checked)");
  }
});

Deno.test("deploy files - Dockerfiles start from the base image the container test builds, and stay non-root", async () => {
  const cpu = await Deno.readTextFile(`${DEPLOY}/Dockerfile`);
  const cuda = await Deno.readTextFile(`${DEPLOY}/Dockerfile.cuda`);
  assert(cpu.includes(`ARG BASE_IMAGE=${BASE_IMAGE}`));
  assert(cuda.includes(`ARG NODE_IMAGE=${BASE_IMAGE}`));
  assert(cuda.includes("--onnxruntime-node-install="));
  for (const text of [cpu, cuda]) {
    assert(/^USER coop$/m.test(text));
    assert(/^HEALTHCHECK /m.test(text));
    assert(/deno install --frozen/.test(text));
  }
});

Deno.test("deploy files - shell scripts and the systemd unit", async () => {
  for (const script of ["entrypoint.sh", "join.sh"]) {
    const syntax = await run("sh", ["-n", `${DEPLOY}/${script}`], { check: false });
    assertEquals(syntax.code, 0, `${script}: ${syntax.stderr}`);
    if (await have("shellcheck")) {
      const lint = await run("shellcheck", ["-s", "sh", `${DEPLOY}/${script}`], { check: false });
      assertEquals(lint.code, 0, `${script}: ${lint.stdout}`);
    }
  }
  const dry = await run(`${DEPLOY}/join.sh`, [
    "--nats",
    "nats://head:4222",
    "--token",
    "s3cret",
    "--cpus",
    "4",
    "--gpus",
    "0,1",
    "--resource",
    "ssd=1",
    "--label",
    "zone=a",
    "--label",
    "rack=7",
    "--dry-run",
  ]);
  const settings = Object.fromEntries(
    dry.stdout.trim().split("\n").map((l) => {
      const at = l.indexOf("=");
      return [l.slice(0, at), JSON.parse(l.slice(at + 1))];
    }),
  );
  deepStrictEqual(settings, {
    COOP_NATS_URL: "nats://head:4222",
    COOP_AGENT_CPUS: "4",
    COOP_AGENT_GPUS: "0,1",
    COOP_AGENT_RESOURCES: "ssd=1",
    COOP_AGENT_LABELS: "zone=a,rack=7",
    COOP_NATS_TOKEN: "<redacted>",
  });
  checkEnv("join.sh", Object.keys(settings), await knownVariables());
  for (
    const [args, message] of [
      [["--cpus", "2"], "--nats URL is required"],
      [["--nats", "head:4222"], "must start with nats://"],
      [["--nats", "nats://h", "--token", "a", "--user", "u", "--password", "p"], "one NATS credential method"],
      [["--nats", "nats://h", "--label", "novalue"], "must be name=value"],
      [["--nats", "nats://h", "--gpus", "a"], "must be ids"],
    ] as const
  ) {
    const bad = await run(`${DEPLOY}/join.sh`, [...args, "--dry-run"], { check: false });
    assertEquals(bad.code, 2, args.join(" "));
    assert(bad.stderr.includes(message), `${args.join(" ")}: ${bad.stderr}`);
  }

  if (await have("systemd-analyze")) {
    const work = await Deno.makeTempDir({ prefix: "coop-unit-" });
    try {
      const unit = (await Deno.readTextFile(`${DEPLOY}/coop-agent.service`))
        .replaceAll("@COOP_HOME@", ROOT).replaceAll("@ENV_FILE@", `${work}/agent.env`).replaceAll(
          "@DENO@",
          "/bin/true",
        );
      await Deno.writeTextFile(`${work}/coop-agent.service`, unit);
      await Deno.writeTextFile(`${work}/agent.env`, 'COOP_NATS_URL="nats://h:4222"\n');
      const verify = await run("systemd-analyze", ["verify", `${work}/coop-agent.service`], { check: false });
      // verify also reports unrelated units of this host's systemd; only lines naming ours count
      const ours = (verify.stdout + verify.stderr).split("\n").filter((l) => l.includes("coop-agent.service"));
      deepStrictEqual(ours.filter((l) => !/User=coop|user coop|Failed to resolve user/i.test(l)), []);
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  }
});

/** The subset of `labels` whose keys `selector` names (a selector must match the pod's labels). */
function pickKeys(labels: Record<string, string>, selector: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(selector).map((key) => [key, labels[key]!]));
}
