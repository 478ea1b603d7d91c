/**
 * A run's data: training tasks in a fixed seeded order, the held-out evaluation set, and the held-out verification
 * pairs the RM's pairwise accuracy is measured on. Built-in tasks come from the synthetic generator; GSM8K/MATH
 * JSONL files go through the `rl` loaders (malformed lines skipped and counted with their line numbers).
 */
import {
  buildVerificationPairs,
  type DataConfig,
  describeLoad,
  generateTasks,
  loadTaskFile,
  type MathTask,
  RuleNegativeSynthesizer,
} from "../../rl/mod.ts";
import { ConfigError, mixSeed, Rng } from "../../shared/mod.ts";

/** Training and held-out tasks of a run. */
export interface RunData {
  train: MathTask[];
  eval: MathTask[];
  /** Lines skipped while loading files, described (empty for built-in data). */
  notes: string[];
}

/** Loads or generates the training tasks (shuffled by `seed`) and the held-out set. */
export async function loadRunData(
  data: DataConfig,
  evalConfig: { size: number; seed: number; path?: string },
  seed: number,
): Promise<RunData> {
  const notes: string[] = [];
  let train: MathTask[];
  let held: MathTask[];
  if (data.source === "builtin") {
    train = generateTasks(data.size, { levels: data.levels, seed: data.seed });
    held = generateTasks(evalConfig.size, {
      levels: data.levels,
      seed: evalConfig.seed,
      exclude: new Set(train.map((t) => t.question)),
    });
  } else {
    const loaded = await loadTaskFile(data.path, data.source);
    notes.push(describeLoad(loaded));
    train = loaded.tasks;
    if (evalConfig.path !== undefined) {
      const evalLoaded = await loadTaskFile(evalConfig.path, data.source);
      notes.push(describeLoad(evalLoaded));
      held = evalLoaded.tasks.slice(0, evalConfig.size);
    } else {
      // No held-out file: hold out the tail of the shuffled training file.
      const shuffled = new Rng(mixSeed(seed, 17)).shuffle(train);
      held = shuffled.slice(0, Math.min(evalConfig.size, Math.floor(train.length / 5)));
      const heldIds = new Set(held.map((t) => t.id));
      train = train.filter((t) => !heldIds.has(t.id));
    }
  }
  if (train.length === 0) throw new ConfigError(`Invalid run data: no usable training tasks`);
  return { train: new Rng(mixSeed(seed, 1)).shuffle(train), eval: held, notes };
}

/** The `count` tasks of step `step` (cycling through the shuffled training set). */
export function tasksForStep(train: readonly MathTask[], step: number, count: number): MathTask[] {
  return Array.from({ length: count }, (_, i) => train[(step * count + i) % train.length]!);
}

/** A held-out verification pair: a worked solution and a verified wrong rewrite of it. */
export interface VerificationPair {
  question: string;
  reference: string;
  positive: string;
  negative: string;
}

/** Held-out verification pairs: each task's worked solution and a verified wrong rewrite of it. */
export async function verificationPairs(tasks: readonly MathTask[], seed: number): Promise<VerificationPair[]> {
  const withSolution = tasks.filter((t) => t.solution !== undefined);
  const pairs = await buildVerificationPairs(withSolution, { synthesizer: new RuleNegativeSynthesizer(), seed });
  return pairs.map((p) => ({
    question: withSolution[p.group]!.question,
    reference: withSolution[p.group]!.answer,
    positive: p.positive,
    negative: p.negative,
  }));
}
