/** Which paths of a job config must stay inside which roots (shared/roots.ts does the checking). */
import { checkPath, type CheckPathOptions, type PathRoots, type PathShape, type RootKind } from "../../shared/mod.ts";

export { checkPath, PathError, type PathRoots, rootsFromEnv } from "../../shared/mod.ts";

/** Every path field of a job config (any kind), with the roots and shape it must have. */
const FIELDS: readonly { path: readonly string[]; kind: RootKind; shape: PathShape; skip?: string }[] = [
  { path: ["data", "path"], kind: "data", shape: "file" },
  { path: ["eval", "path"], kind: "data", shape: "file" },
  { path: ["eval", "rmAnswers"], kind: "runs", shape: "file" },
  { path: ["policy", "checkpoint"], kind: "models", shape: "entry" },
  { path: ["policy", "tokenizer"], kind: "models", shape: "entry", skip: "char" },
  { path: ["rewardModel", "checkpoint"], kind: "models", shape: "entry" },
  { path: ["rewardModel", "tokenizer"], kind: "models", shape: "entry", skip: "char" },
  { path: ["negatives", "assistant", "checkpoint"], kind: "models", shape: "entry" },
  { path: ["negatives", "assistant", "tokenizer"], kind: "models", shape: "entry", skip: "char" },
  { path: ["checkpoint", "dir"], kind: "runs", shape: "new" },
];

function field(config: unknown, path: readonly string[]): unknown {
  let value = config;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/**
 * Checks every path a (validated) job config names, and the checkpoint it resumes from, before anything reads
 * them; throws a {@link PathError} naming the first bad field.
 */
export function checkJobPaths(
  config: unknown,
  roots: PathRoots,
  options: CheckPathOptions & { resume?: string } = {},
): void {
  for (const spec of FIELDS) {
    const value = field(config, spec.path);
    if (typeof value !== "string" || value === spec.skip) continue;
    checkPath(`run config: ${spec.path.join(".")}`, value, { kind: spec.kind, shape: spec.shape, roots }, options);
  }
  if (options.resume !== undefined) {
    checkPath("run config: resume", options.resume, { kind: "runs", shape: "dir", roots }, options);
  }
}
