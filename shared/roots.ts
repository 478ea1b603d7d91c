/**
 * Paths from remote callers (run configs through the API, learners' `save(dir)`/`load(dir)` calls) must stay inside
 * the deployment's roots: data files under the data roots, model checkpoints and tokenizers under the model roots,
 * checkpoints and resumes under the run roots.
 * Each path is resolved against the coordinator's cwd and then through `realpath` (a symlink inside a root that
 * points outside is refused), data files must be regular files below a size cap (no `/dev/zero`), and every refusal
 * reads the same whether or not the path exists, so the API never tells a caller what lies outside the roots.
 */
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.ts";

/** Where remote run configs may point. */
export interface PathRoots {
  /** Task files (`data.path`, `eval.path`). */
  data: string[];
  /** Model checkpoints and tokenizers. */
  models: string[];
  /** Checkpoint dirs written by runs, and the checkpoints a run resumes from. */
  runs: string[];
  /** Largest file a config may name (bytes). */
  maxFileBytes: number;
}

/** A config path outside the roots, of the wrong kind, or too large. */
export class PathError extends ConfigError {
  override name = "PathError";
}

/** Which roots a path must be inside. */
export type RootKind = "data" | "models" | "runs";
/** `file`: an existing regular file; `entry`: an existing file or dir; `dir`: an existing dir; `new`: may not exist. */
export type PathShape = "file" | "entry" | "dir" | "new";

const DEFAULT_MAX_FILE_BYTES = 4 * 2 ** 30;

/**
 * Roots from `COOP_ROOTS_DATA`, `COOP_ROOTS_MODELS`, `COOP_ROOTS_RUNS` (`:`-separated; default `data`, `models`,
 * `runs` under `cwd`) and `COOP_MAX_FILE_MB`.
 */
export function rootsFromEnv(env: { get(name: string): string | undefined } = Deno.env, cwd = Deno.cwd()): PathRoots {
  const list = (name: string, fallback: string) =>
    (env.get(name) ?? fallback).split(":").filter((p) => p !== "").map((p) => resolve(cwd, p));
  const mb = env.get("COOP_MAX_FILE_MB");
  const maxFileBytes = mb === undefined ? DEFAULT_MAX_FILE_BYTES : Number(mb) * 2 ** 20;
  if (!(maxFileBytes > 0)) throw new ConfigError(`Invalid COOP_MAX_FILE_MB "${mb}": expected a positive number`);
  return {
    data: list("COOP_ROOTS_DATA", "data"),
    models: list("COOP_ROOTS_MODELS", "models"),
    runs: list("COOP_ROOTS_RUNS", "runs"),
    maxFileBytes,
  };
}

function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

// A root that does not exist yet (a fresh clone has no runs/) still bounds the paths under it: its nearest existing
// ancestor resolves through realpath and the missing tail cannot hold a symlink, so a checkpoint may be written there.
function realRoots(roots: string[]): string[] {
  return roots.map((root) => realPathOrAncestor(root).real);
}

/** The nearest existing ancestor of `path` (itself included), through realpath; the missing tail is appended. */
function realPathOrAncestor(path: string): { real: string; exists: boolean } {
  let existing = path;
  for (;;) {
    try {
      const real = Deno.realPathSync(existing);
      return { real: resolve(real, relative(existing, path)), exists: existing === path };
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return { real: path, exists: false };
      existing = parent;
    }
  }
}

/** Options for {@link checkPath}. */
export interface CheckPathOptions {
  /** Resolve relative paths against this dir. Default: the cwd. */
  cwd?: string;
}

/**
 * The real path of `value` (named `field` in errors, e.g. "run config: data.path"); throws a {@link PathError}
 * unless it is inside `kind` roots and has `shape`.
 */
export function checkPath(
  field: string,
  value: string,
  spec: { kind: RootKind; shape: PathShape; roots: PathRoots },
  options: CheckPathOptions = {},
): string {
  const { kind, shape, roots } = spec;
  const refuse = (why: string): never => {
    throw new PathError(`Invalid ${field}: ${why}`);
  };
  // Models may also come from the run roots: a run's checkpoints (e.g. the warm-ups) are what later runs start from.
  const listed = kind === "models" ? [...roots.models, ...roots.runs] : roots[kind];
  const allowed = realRoots(listed);
  const where = `inside the ${kind === "models" ? "models or runs" : kind} roots (${
    listed.join(", ") || "none configured"
  }; COOP_ROOTS_${kind.toUpperCase()} sets them)`;
  if (value.includes("\0")) refuse("contains a NUL byte");
  const lexical = resolve(options.cwd ?? Deno.cwd(), value);
  if (!listed.some((root) => inside(lexical, root)) && !allowed.some((root) => inside(lexical, root))) {
    refuse(`must be ${where}`);
  }
  const { real, exists } = realPathOrAncestor(lexical);
  // Same wording as above: a symlink out of a root must not reveal where it points, or that its target exists.
  if (!allowed.some((root) => inside(real, root))) refuse(`must be ${where}`);
  if (shape === "new") {
    if (exists && !Deno.statSync(real).isDirectory) refuse(`"${value}" exists and is not a directory`);
    return real;
  }
  if (!exists) refuse(`"${value}" does not exist ${where}`);
  const info = Deno.statSync(real);
  if (shape === "dir" && !info.isDirectory) refuse(`"${value}" is not a directory`);
  if (shape === "file" && !info.isFile) refuse(`"${value}" is not a regular file`);
  if (shape === "entry" && !info.isFile && !info.isDirectory) refuse(`"${value}" is not a regular file or directory`);
  if (info.isFile && info.size > roots.maxFileBytes) {
    refuse(`"${value}" is ${info.size} bytes, more than the limit of ${roots.maxFileBytes}`);
  }
  return real;
}

/**
 * A zod schema for a path argument of a remote call (e.g. a learner's `save(dir)`): valid when `checkPath` accepts
 * it in one of `kinds` roots (read from the environment of the process serving the call, at call time).
 */
export function rootedPath(field: string, kinds: readonly RootKind[], shape: PathShape): z.ZodType<string> {
  return z.string().max(4096).superRefine((value, ctx) => {
    const roots = rootsFromEnv();
    const merged = { ...roots, runs: kinds.flatMap((kind) => roots[kind]) };
    try {
      checkPath(field, value, { kind: "runs", shape, roots: merged });
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
  });
}
