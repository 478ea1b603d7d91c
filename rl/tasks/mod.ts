/** Math tasks: the built-in synthetic generator and GSM8K/MATH-style JSONL loaders. */
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
