/**
 * verl's RL parquet layout, read with hyparquet: one row per task with `data_source` (e.g. "openai/gsm8k"),
 * `prompt` (chat messages; the last user turn is the question), `reward_model.ground_truth` (the reference answer)
 * and optionally `extra_info` (`index`, and `answer`: GSM8K's worked solution, used for SFT and RM pairs). As with
 * JSONL, a bad row is skipped and reported by its 0-based row number (the index pandas and verl give it).
 * Snappy- and uncompressed files are read (pyarrow's default is snappy).
 */
import { parquetReadObjects } from "hyparquet";
import { DatasetError, type LoadedDataset, type SkippedLine } from "./jsonl.ts";
import type { MathTask } from "./task.ts";

type Row = Record<string, unknown>;

function isRecord(value: unknown): value is Row {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One verl row as a task, or the reason it is unusable. */
export function verlRow(row: Row, index: number, source: string): MathTask | string {
  const prompt = row.prompt;
  if (!Array.isArray(prompt) || prompt.length === 0) return `"prompt" must be a non-empty list of chat messages`;
  const user = prompt.filter((m) => isRecord(m) && m.role === "user").at(-1) as Row | undefined;
  if (user === undefined || typeof user.content !== "string" || user.content.trim() === "") {
    return `"prompt" has no user message with text`;
  }
  const reward = row.reward_model;
  const truth = isRecord(reward) ? reward.ground_truth : undefined;
  const answer = typeof truth === "number" || typeof truth === "bigint" ? String(truth) : truth;
  if (typeof answer !== "string" || answer.trim() === "") {
    return `"reward_model.ground_truth" must be a non-empty string`;
  }
  const extra = isRecord(row.extra_info) ? row.extra_info : {};
  const dataSource = typeof row.data_source === "string" && row.data_source !== "" ? row.data_source : source;
  const rowIndex = typeof extra.index === "number" || typeof extra.index === "bigint" ? String(extra.index) : index;
  const task: MathTask = { id: `${dataSource}:${rowIndex}`, question: user.content.trim(), answer: answer.trim() };
  if (typeof extra.answer === "string" && extra.answer.includes("####")) {
    // GSM8K's calculator annotations (<<48/2=24>>) are tool traces, not solution text (as in the JSONL loader).
    task.solution = extra.answer.replace(/<<[^<>]*>>/g, "").trim();
  }
  return task;
}

/** Parses verl-format parquet bytes; unusable rows are skipped and reported by row number. */
export async function parseVerlParquet(bytes: ArrayBuffer, options: { source?: string } = {}): Promise<LoadedDataset> {
  const source = options.source ?? "verl";
  let rows: Row[];
  try {
    rows = await parquetReadObjects({ file: bytes }) as Row[];
  } catch (error) {
    throw new DatasetError(`Cannot read verl parquet ${source}: ${(error as Error).message}`);
  }
  const tasks: MathTask[] = [];
  const skipped: SkippedLine[] = [];
  rows.forEach((row, index) => {
    const parsed = verlRow(row, index, source);
    if (typeof parsed === "string") skipped.push({ line: index, reason: parsed });
    else tasks.push(parsed);
  });
  return { tasks, skipped, unit: "row" };
}

/** Reads a verl-format parquet file; throws {@link DatasetError} when the file cannot be read or parsed at all. */
export async function loadVerlParquet(path: string): Promise<LoadedDataset> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new DatasetError(`Cannot read verl dataset "${path}": ${(error as Error).message}`);
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return await parseVerlParquet(buffer, { source: path.split("/").at(-1) ?? path });
}
