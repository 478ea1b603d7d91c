/**
 * Host helpers for the deploy tests: run a command and capture its output, check what the host can do (root,
 * network namespaces, podman) and install missing Debian packages when root, since CI machines start fresh.
 */

/** Repository root (tests/deploy/ is two levels down). */
export const ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** What a finished command printed. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@link run}. */
export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Bytes written to the command's stdin. */
  stdin?: string | Uint8Array;
  /** Throw {@link CommandError} on a non-zero exit (default true). */
  check?: boolean;
}

/** A command exited non-zero. */
export class CommandError extends Error {
  override name = "CommandError";
  constructor(readonly command: string, readonly result: RunResult) {
    super(
      `Command failed (exit ${result.code}): ${command}\n${result.stderr.slice(-4000) || result.stdout.slice(-4000)}`,
    );
  }
}

/** Runs a command to completion and returns its output. */
export async function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    env: options.env,
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin);
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  const result = { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
  if (result.code !== 0 && options.check !== false) throw new CommandError([cmd, ...args].join(" "), result);
  return result;
}

/** True when the command is on PATH. */
export async function have(cmd: string): Promise<boolean> {
  return (await run("sh", ["-c", `command -v ${cmd}`], { check: false })).code === 0;
}

/** True when running as root. */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

let aptUpdated = false;

/**
 * Makes sure each `command: package` pair is present, installing the missing packages with apt when root.
 * Returns a reason string when something is still missing, null when all are there.
 */
export async function ensureCommands(wanted: Record<string, string>): Promise<string | null> {
  const missing: string[] = [];
  for (const [cmd, pkg] of Object.entries(wanted)) {
    if (!(await have(cmd))) missing.push(pkg);
  }
  if (missing.length === 0) return null;
  if (!isRoot() || !(await have("apt-get"))) {
    return `missing ${missing.join(", ")} and not root with apt-get to install them`;
  }
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    run("apt-get", ["install", "-y", "-q", "--no-install-recommends", ...missing], { env, check: false });
  let result = await install();
  if (result.code !== 0 && !aptUpdated) {
    aptUpdated = true;
    await run("apt-get", ["update", "-q"], { env, check: false });
    result = await install();
  }
  if (result.code !== 0) return `apt-get install ${missing.join(" ")} failed: ${result.stderr.slice(-500)}`;
  for (const [cmd, pkg] of Object.entries(wanted)) {
    if (!(await have(cmd))) return `${pkg} installed but ${cmd} is still not on PATH`;
  }
  return null;
}

/** Path of the Deno binary running the tests (the same one `./coop` found). */
export function denoPath(): string {
  return Deno.env.get("COOP_DENO") ?? Deno.execPath();
}

/** Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
  const detail = lastError instanceof Error ? `: last error: ${lastError.message}` : "";
  throw new Error(`Timed out after ${options.timeoutMs ?? 30_000} ms waiting for ${what}${detail}`);
}

/** A short random id for naming per-run resources (namespaces, containers, networks). */
export function runId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 6);
}
