/**
 * Loaders for GSM8K-style (`{"question", "answer": "... #### 72"}`) and MATH-style
 * (`{"problem", "solution": "... \\boxed{72}"}`) JSONL. A bad line never aborts a load: it is skipped and reported
 * with its 1-based line number and reason, so a run can say "loaded 7469, skipped 3 (lines 12, 40, 977)".
 */

import { CoopError } from "../../shared/mod.ts";
import { extractAnswer } from "../verify/mod.ts";
import type { MathTask } from "./task.ts";

/** The two dataset layouts the loaders understand. */
export type DatasetFormat = "gsm8k" | "math";

/** A line that was skipped, and why. */
export interface SkippedLine {
  line: number;
  reason: string;
}

/** The result of a load: the good tasks and every skipped line. */
export interface LoadedDataset {
  tasks: MathTask[];
  /** `line` is a 1-based line number (JSONL) or a 0-based row number (parquet, see `unit`). */
  skipped: SkippedLine[];
  /** What `skipped[].line` counts. Default "line". */
  unit?: "line" | "row";
}

/** Options for {@link parseJsonlTasks}. */
export interface ParseJsonlOptions {
  /** Prefix for ids of rows without an `id` field (default the format name). */
  source?: string;
}

/** Raised when a dataset file cannot be read at all (missing, unreadable). */
export class DatasetError extends CoopError {
  override name = "DatasetError";
}

/** Parses JSONL text in the given format; malformed lines are skipped and counted. */
export function parseJsonlTasks(text: string, format: DatasetFormat, options: ParseJsonlOptions = {}): LoadedDataset {
  const source = options.source ?? format;
  const tasks: MathTask[] = [];
  const skipped: SkippedLine[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "") continue; // blank lines (a trailing newline) are not data
    const line = i + 1;
    let row: unknown;
    try {
      row = JSON.parse(raw);
    } catch (error) {
      skipped.push({ line, reason: `invalid JSON: ${error instanceof Error ? error.message : error}` });
      continue;
    }
    const parsed = format === "gsm8k" ? gsm8kRow(row) : mathRow(row);
    if (typeof parsed === "string") {
      skipped.push({ line, reason: parsed });
      continue;
    }
    const id = isRecord(row) && (typeof row.id === "string" || typeof row.id === "number")
      ? String(row.id)
      : `${source}:${line}`;
    tasks.push({ id, ...parsed });
  }
  return { tasks, skipped };
}

/** Reads and parses a JSONL file; throws {@link DatasetError} only when the file itself cannot be read. */
export async function loadJsonlTasks(path: string, format: DatasetFormat): Promise<LoadedDataset> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new DatasetError(
      `Cannot read ${format} dataset "${path}": ${error instanceof Error ? error.message : error}`,
    );
  }
  const name = path.split("/").at(-1) ?? path;
  return parseJsonlTasks(text, format, { source: name });
}

/** A one-line summary naming skipped line numbers (the first 10). */
export function describeLoad(dataset: LoadedDataset): string {
  const { tasks, skipped } = dataset;
  if (skipped.length === 0) return `loaded ${tasks.length} tasks`;
  const lines = skipped.slice(0, 10).map((s) => s.line).join(", ");
  const more = skipped.length > 10 ? `, … ${skipped.length - 10} more` : "";
  const unit = dataset.unit ?? "line";
  const first = skipped[0]!;
  return `loaded ${tasks.length} tasks, skipped ${skipped.length} malformed ${unit}s (${lines}${more}; ` +
    `${unit} ${first.line}: ${first.reason})`;
}

type Parsed = Omit<MathTask, "id"> | string;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function gsm8kRow(row: unknown): Parsed {
  if (!isRecord(row)) return "expected a JSON object";
  const { question, answer } = row;
  if (typeof question !== "string" || question.trim() === "") return `"question" must be a non-empty string`;
  if (typeof answer !== "string") return `"answer" must be a string`;
  const marker = answer.lastIndexOf("####");
  if (marker < 0) return `"answer" has no "#### <answer>" line`;
  const final = answer.slice(marker + 4).split("\n", 1)[0]!.trim();
  if (final === "") return `"answer" has an empty "####" line`;
  // GSM8K's calculator annotations (<<48/2=24>>) are tool traces, not solution text a model should imitate.
  const solution = answer.replace(/<<[^<>]*>>/g, "").trim();
  return { question: question.trim(), answer: final, solution };
}

function mathRow(row: unknown): Parsed {
  if (!isRecord(row)) return "expected a JSON object";
  const { problem, solution, answer } = row;
  if (typeof problem !== "string" || problem.trim() === "") return `"problem" must be a non-empty string`;
  if (typeof solution !== "string") return `"solution" must be a string`;
  // Some MATH exports (MATH-500) carry the answer separately; otherwise it is the last \boxed{} of the solution.
  if (typeof answer === "string" && answer.trim() !== "") {
    return { question: problem.trim(), answer: answer.trim(), solution };
  }
  const found = extractAnswer(solution);
  if (found?.source !== "boxed") return `"solution" has no \\boxed{} answer`;
  return { question: problem.trim(), answer: found.text, solution };
}
