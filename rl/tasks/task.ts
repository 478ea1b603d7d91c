/** One math problem with its reference answer, from the synthetic generator or a JSONL dataset. */
export interface MathTask {
  /** Stable id: `syn-<seed>-<index>` for generated tasks, `<file>:<line>` (or the row's `id`) for loaded ones. */
  id: string;
  question: string;
  /** The reference final answer as written (the verifier normalises it). */
  answer: string;
  /** A worked solution ending in the answer, for SFT warm-up; absent when the source has none. */
  solution?: string;
  /** Difficulty level for generated tasks (1 = one small addition). */
  level?: number;
}
