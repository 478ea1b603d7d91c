/**
 * Data for the reward model outside the RL loop: a held-out set of verified pairs for measuring RM pairwise
 * accuracy (the pretraining labelled set is built by the `rm-pretrain` job in `coordinator/run/warmup.ts`).
 *
 * Also the prompt format every role shares (SFT, rollout, evaluation), so they cannot drift apart.
 */

import type { ChatMessage } from "../engine/tokenizers/mod.ts";
import type { NegativeSynthesizer } from "./negatives.ts";
import { buildPairs, type CooperPair } from "./pairs.ts";
import type { MathTask } from "./tasks/task.ts";

/**
 * The policy's prompt for a question without a chat template (the tiny char-level models): the question, then a
 * newline after which the solution is written.
 */
export function formatPrompt(question: string): string {
  return `${question}\n`;
}

/** The policy's prompt for a question as chat messages (for a checkpoint's chat template): system, then user. */
export function promptMessages(question: string, options: { systemPrompt?: string } = {}): ChatMessage[] {
  const system = options.systemPrompt === undefined ? [] : [{ role: "system", content: options.systemPrompt }];
  return [...system, { role: "user", content: question }];
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
