/**
 * Built-in synthetic math word problems, sized for a tiny char-level model on a laptop CPU: short lowercase
 * sentences, small numbers, and worked solutions in one fixed format (`3+4=7. 7*2=14. #### 14`) whose every
 * intermediate number is checkable, which is what lets the rule-based negative synthesizer rewrite a correct
 * solution into a consistent wrong one.
 *
 * Levels: 1 = one addition of numbers 1–9; 2 = one addition, subtraction or multiplication up to 20;
 * level k ≥ 3 = a chain of k−1 such steps. Every task is a pure function of (seed, index), so a set of n tasks is
 * a prefix of a set of n+1 and a resumed run regenerates the same data.
 */
import { CoopError } from "../../shared/mod.ts";

import { mixSeed, Rng } from "../../shared/mod.ts";
import type { MathTask } from "./task.ts";

/** Every character generated questions and solutions use, plus `<>/_` for the reward model's input tags. */
export const TASK_ALPHABET: string = " #*+,-./0123456789<=>?_abcdefghijklmnopqrstuvwxyz\n";

/** Highest supported difficulty level (a chain of 5 steps). */
export const MAX_LEVEL = 6;

/** An arithmetic operator used in generated solutions. */
export type Op = "+" | "-" | "*";

/** One line of a worked solution: `a op b = result`. */
export interface SolutionStep {
  a: number;
  op: Op;
  b: number;
  result: number;
}

/** Options for {@link generateTasks}. */
export interface GenerateOptions {
  /** Difficulty levels to draw from, uniformly per task (default [1]). */
  levels?: readonly number[];
  /** Default 0. */
  seed?: number;
  /** Questions to skip (e.g. the training set when building a held-out set). */
  exclude?: ReadonlySet<string>;
}

/** Raised for impossible generator requests (unknown level, negative count). */
export class TaskGenerationError extends CoopError {
  override name = "TaskGenerationError";
}

const NAMES = ["ann", "bob", "tom", "sue", "max", "eva", "leo", "mia"] as const;
const ITEMS = ["apple", "pen", "cup", "book", "egg", "coin", "card", "ball"] as const;

/** Applies one operator. */
export function applyOp(a: number, op: Op, b: number): number {
  return op === "+" ? a + b : op === "-" ? a - b : a * b;
}

/** Renders steps as the canonical solution text: `3+4=7. 7*2=14. #### 14`. */
export function formatSolution(steps: readonly SolutionStep[], answer: number = steps.at(-1)?.result ?? 0): string {
  const lines = steps.map((s) => `${s.a}${s.op}${s.b}=${s.result}.`);
  return [...lines, `#### ${answer}`].join(" ");
}

/** Generates `count` tasks, deterministic in (seed, levels). */
export function generateTasks(count: number, options: GenerateOptions = {}): MathTask[] {
  const levels = options.levels ?? [1];
  const seed = options.seed ?? 0;
  if (!Number.isInteger(count) || count < 0) {
    throw new TaskGenerationError(`Cannot generate ${count} tasks: count must be a non-negative integer`);
  }
  if (levels.length === 0) throw new TaskGenerationError("Cannot generate tasks: levels is empty");
  for (const level of levels) {
    if (!Number.isInteger(level) || level < 1 || level > MAX_LEVEL) {
      throw new TaskGenerationError(`Cannot generate tasks of level ${level}: levels run from 1 to ${MAX_LEVEL}`);
    }
  }
  const tasks: MathTask[] = [];
  // Bounded so an exclude set covering the whole (small) level-1 space cannot loop forever.
  for (let index = 0; tasks.length < count && index < count * 50 + 1000; index++) {
    const task = generateTask(seed, index, levels);
    if (!options.exclude?.has(task.question)) tasks.push(task);
  }
  if (tasks.length < count) {
    throw new TaskGenerationError(`Cannot generate ${count} distinct tasks: the excluded set covers the level space`);
  }
  return tasks;
}

/** The task at `index` of the stream for `seed`. */
export function generateTask(seed: number, index: number, levels: readonly number[] = [1]): MathTask {
  const rng = new Rng(mixSeed(seed, index));
  const level = rng.pick(levels);
  const name = rng.pick(NAMES);
  const item = rng.pick(ITEMS);
  const { clauses, steps } = level === 1 ? singleAdd(rng) : level === 2 ? singleStep(rng) : chain(rng, level - 1);
  const answer = steps.at(-1)!.result;
  const question = `${name} ${clauses.join(", ")}. how many ${item}s?`.replaceAll("{item}", `${item}s`);
  return {
    id: `syn-${seed}-${index}`,
    question,
    answer: String(answer),
    solution: formatSolution(steps),
    level,
  };
}

interface Draft {
  clauses: string[];
  steps: SolutionStep[];
}

function singleAdd(rng: Rng): Draft {
  const a = rng.int(1, 9);
  const b = rng.int(1, 9);
  return { clauses: [`has ${a} {item} and gets ${b} more`], steps: [{ a, op: "+", b, result: a + b }] };
}

function singleStep(rng: Rng): Draft {
  const op = rng.pick(["+", "-", "*"] as const);
  if (op === "*") {
    const a = rng.int(2, 9);
    const b = rng.int(2, 9);
    return { clauses: [`buys ${a} bags of ${b} {item}`], steps: [{ a, op, b, result: a * b }] };
  }
  const a = rng.int(op === "-" ? 2 : 1, 20);
  const b = op === "-" ? rng.int(1, a - 1) : rng.int(1, 20);
  const clause = op === "-" ? `has ${a} {item} and gives away ${b}` : `has ${a} {item} and gets ${b} more`;
  return { clauses: [clause], steps: [{ a, op, b, result: applyOp(a, op, b) }] };
}

function chain(rng: Rng, length: number): Draft {
  let total = rng.int(2, 12);
  const clauses = [`has ${total} {item}`];
  const steps: SolutionStep[] = [];
  for (let i = 0; i < length; i++) {
    // Keep totals small (≤ ~60) so answers stay short for a char-level model.
    const ops: Op[] = ["+"];
    if (total >= 2) ops.push("-");
    if (total <= 15) ops.push("*");
    const op = rng.pick(ops);
    const b = op === "+" ? rng.int(1, 9) : op === "-" ? rng.int(1, Math.min(9, total - 1)) : rng.int(2, 3);
    const result = applyOp(total, op, b);
    const then = i === 0 ? "" : "then ";
    clauses.push(
      op === "+"
        ? `${then}gets ${b} more`
        : op === "-"
        ? `${then}loses ${b}`
        : `${then}${b === 2 ? "doubles" : "triples"} them`,
    );
    steps.push({ a: total, op, b, result });
    total = result;
  }
  return { clauses, steps };
}
