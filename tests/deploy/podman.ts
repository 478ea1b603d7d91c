/**
 * Podman helpers for the container tests. No registry is reachable here, so the Dockerfile's base image is made
 * locally: a Debian bookworm minbase from debootstrap plus this host's Node.js/npm, tagged with the Dockerfile's
 * FROM name. This host needs the runc runtime and explicit ulimits (the default nofile limit exceeds the hard
 * limit); a private containers.conf sets them for every container podman creates, including pod infra containers.
 */
import { ROOT, run, type RunOptions, type RunResult } from "./host.ts";

/** The Dockerfile's default base image (its `ARG BASE_IMAGE`). */
export const BASE_IMAGE = "docker.io/library/node:20-bookworm-slim";
/** Flags every `podman run` gets on this host. */
export const RUN_FLAGS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"];

const CACHE_DIR = "/var/tmp/coop-deploy";
const CACHE_TARBALL = `${CACHE_DIR}/bookworm-minbase-v1.tar`;
const BASE_LABEL = "org.coop.test-base=v1";
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

let confPath: string | undefined;

function containersConf(): string {
  if (confPath) return confPath;
  confPath = Deno.makeTempFileSync({ prefix: "coop-containers-", suffix: ".conf" });
  Deno.writeTextFileSync(
    confPath,
    ["[containers]", 'default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]', "[engine]", 'runtime = "runc"']
      .join("\n") + "\n",
  );
  return confPath;
}

/** Runs `podman --runtime runc ARGS` with this host's containers.conf. */
export function podman(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return run("podman", ["--runtime", "runc", ...args], {
    ...options,
    env: { CONTAINERS_CONF: containersConf(), ...options.env },
  });
}

/** True in CI, where local caches (debootstrap tarball, image layers) must not be relied on. */
export function inCi(): boolean {
  return (Deno.env.get("CI") ?? "") !== "" && Deno.env.get("CI") !== "false";
}

async function debootstrapTarball(): Promise<string> {
  const useCache = !inCi();
  if (useCache) {
    try {
      await Deno.stat(CACHE_TARBALL);
      return CACHE_TARBALL;
    } catch { /* build it below */ }
  }
  const work = await Deno.makeTempDir({ prefix: "coop-debootstrap-", dir: "/var/tmp" });
  try {
    const rootfs = `${work}/rootfs`;
    // minbase + the two packages a test image needs: CA roots (npm over TLS) and nats-server for the NATS container.
    await run("debootstrap", [
      "--variant=minbase",
      "--include=ca-certificates,nats-server",
      "bookworm",
      rootfs,
      "http://deb.debian.org/debian",
    ]);
    await run("sh", ["-c", `rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/*`]);
    const target = useCache ? CACHE_TARBALL : `${work}/minbase.tar`;
    await Deno.mkdir(CACHE_DIR, { recursive: true });
    await run("tar", ["-C", rootfs, "-cf", `${target}.partial`, "."]);
    await Deno.rename(`${target}.partial`, target);
    await Deno.remove(rootfs, { recursive: true });
    return target;
  } catch (error) {
    await Deno.remove(work, { recursive: true }).catch(() => {});
    throw error;
  }
}

/**
 * Builds the stand-in for the Dockerfile's base image (Debian bookworm minbase + Node.js/npm laid out as in the
 * official node image, under /usr/local) and tags it {@link BASE_IMAGE}. Reuses an existing one outside CI.
 */
export async function ensureBaseImage(): Promise<{ rebuilt: boolean }> {
  if (!inCi()) {
    const found = await podman(["image", "inspect", "--format", "{{.Labels}}", BASE_IMAGE], { check: false });
    if (found.code === 0 && found.stdout.includes("org.coop.test-base:v1")) return { rebuilt: false };
  }
  const tarball = await debootstrapTarball();
  const stage = await Deno.makeTempDir({ prefix: "coop-base-", dir: "/var/tmp" });
  try {
    await run("tar", ["-C", stage, "-xf", tarball]);
    const node = (await run("sh", ["-c", 'readlink -f "$(command -v node)"'])).stdout.trim();
    const npmRoot = (await run("npm", ["root", "-g"])).stdout.trim();
    await Deno.mkdir(`${stage}/usr/local/lib/node_modules`, { recursive: true });
    await run("cp", [node, `${stage}/usr/local/bin/node`]);
    await run("cp", ["-a", `${npmRoot}/npm`, `${stage}/usr/local/lib/node_modules/npm`]);
    await Deno.symlink("../lib/node_modules/npm/bin/npm-cli.js", `${stage}/usr/local/bin/npm`);
    await Deno.symlink("../lib/node_modules/npm/bin/npx-cli.js", `${stage}/usr/local/bin/npx`);
    // This host reaches npm through a TLS-intercepting proxy whose CA is only in the host's bundle: the stand-in
    // trusts what the host trusts, for npm (NODE_EXTRA_CA_CERTS) and Deno (DENO_CERT) alike.
    await run("cp", [HOST_CA_BUNDLE, `${stage}/etc/ssl/certs/ca-certificates.crt`]);
    // Drop the previous stand-in first, so re-imports do not pile up untagged images.
    await podman(["rmi", BASE_IMAGE], { check: false });
    await run("sh", [
      "-c",
      `tar -C "${stage}" -c . | podman --runtime runc import ` +
      `--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' ` +
      `--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' ` +
      `--change 'ENV DENO_CERT=/etc/ssl/certs/ca-certificates.crt' ` +
      `--change 'LABEL ${BASE_LABEL}' --change 'CMD ["node"]' - ${BASE_IMAGE}`,
    ], { env: { CONTAINERS_CONF: containersConf() } });
    return { rebuilt: true };
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
}

/** Prefix of container and network names made by the tests: `coopt<pid>-…`, so leftovers can be traced. */
export function resourcePrefix(): string {
  return `coopt${Deno.pid}-`;
}

/**
 * Removes containers and networks left by test runs whose process is gone (an uncaught error can end a test
 * module before its `finally` runs).
 */
export async function sweepStaleContainers(): Promise<void> {
  const stale = (name: string) => {
    const match = /^coopt(\d+)-/.exec(name);
    if (!match) return false;
    try {
      Deno.statSync(`/proc/${match[1]}`);
      return false;
    } catch {
      return true;
    }
  };
  const containers = (await podman(["ps", "-a", "--format", "{{.Names}}"], { check: false })).stdout.split("\n");
  const doomed = containers.filter(stale);
  if (doomed.length > 0) await podman(["rm", "-f", "-t", "1", ...doomed], { check: false });
  const networks = (await podman(["network", "ls", "--format", "{{.Name}}"], { check: false })).stdout.split("\n");
  for (const network of networks.filter(stale)) await podman(["network", "rm", "-f", network], { check: false });
}

/** Options for {@link buildImage}. */
export interface BuildOptions {
  /** Extra `--build-arg` values. */
  buildArgs?: Record<string, string>;
  /** Skip podman's layer cache (CI builds from scratch). */
  noCache?: boolean;
}

/** Builds `deploy/<dockerfile>` with the repository root as context, never pulling; returns the build log. */
export async function buildImage(dockerfile: string, tag: string, options: BuildOptions = {}): Promise<RunResult> {
  const args = [
    "build",
    "--pull=never",
    "--format=docker", // HEALTHCHECK exists only in the docker image format; OCI drops it
    "--network=host", // npm is reachable from the host network only
    "--ignorefile",
    `${ROOT}/deploy/Dockerfile.dockerignore`,
    ...RUN_FLAGS,
    "-f",
    `${ROOT}/deploy/${dockerfile}`,
    "-t",
    tag,
  ];
  for (const [key, value] of Object.entries(options.buildArgs ?? {})) args.push("--build-arg", `${key}=${value}`);
  if (options.noCache) {
    args.push("--no-cache");
    await podman(["rmi", tag], { check: false }); // a rebuild from scratch would leave the old image untagged
  }
  args.push(ROOT);
  return await podman(args);
}
