/** One entry point for task files: GSM8K/MATH-style JSONL or verl-format parquet, chosen by the data source. */
import { type DatasetFormat, type LoadedDataset, loadJsonlTasks } from "./jsonl.ts";
import { loadVerlParquet } from "./parquet.ts";

/** The file formats a run's `data.source` can name. */
export type TaskFileFormat = DatasetFormat | "verl";

/** Loads a task file of `format`; unusable lines/rows are skipped and reported, never fatal. */
export async function loadTaskFile(path: string, format: TaskFileFormat): Promise<LoadedDataset> {
  return format === "verl" ? await loadVerlParquet(path) : await loadJsonlTasks(path, format);
}
