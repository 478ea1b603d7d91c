/**
 * Data for the reward model outside the RL loop: a held-out set of verified pairs for measuring RM pairwise
 * accuracy (the pretraining labelled set is built by the `rm-pretrain` job in `coordinator/run/warmup.ts`).
 *
 * Also the prompt format every role shares (SFT, rollout, evaluation), so they cannot drift apart.
 */

import type { NegativeSynthesizer } from "./negatives.ts";
import { buildPairs, type CooperPair } from "./pairs.ts";
import type { MathTask } from "./tasks/task.ts";

/** The policy's prompt for a question: the question, then a newline after which the solution is written. */
export function formatPrompt(question: string): string {
  return `${question}\n`;
}

/** Held-out verified (reference solution, rewrite) pairs for RM pairwise accuracy; `group` counts tasks with a solution. */
export async function buildVerificationPairs(
  tasks: readonly MathTask[],
  options: { synthesizer: NegativeSynthesizer; seed?: number },
): Promise<CooperPair[]> {
  const groups = tasks.filter((t) => t.solution !== undefined).map((t) => ({
    question: t.question,
    reference: t.answer,
    responses: [t.solution!],
  }));
  return (await buildPairs(groups, options)).pairs;
}
