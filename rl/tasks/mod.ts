/** Math tasks: the built-in synthetic generator, GSM8K/MATH-style JSONL and verl-format parquet loaders. */
export type { MathTask } from "./task.ts";
export {
  applyOp,
  formatSolution,
  generateTask,
  generateTasks,
  MAX_LEVEL,
  TASK_ALPHABET,
  TaskGenerationError,
} from "./synthetic.ts";
export type { GenerateOptions, Op, SolutionStep } from "./synthetic.ts";
export { DatasetError, describeLoad, loadJsonlTasks, parseJsonlTasks } from "./jsonl.ts";
export type { DatasetFormat, LoadedDataset, ParseJsonlOptions, SkippedLine } from "./jsonl.ts";
export { loadVerlParquet, parseVerlParquet, verlRow } from "./parquet.ts";
export { loadTaskFile, type TaskFileFormat } from "./load.ts";
