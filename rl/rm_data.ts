/**
 * Data for the reward model outside the RL loop: the VerifyRM-style labelled set for pretraining (BCE on
 * (question, reference, completion, label)) and a held-out set of verified pairs for measuring RM pairwise
 * accuracy. Labels always come from the rule verifier, never from how a completion was made, so the RM is trained
 * on exactly the judgement the paper's hybrid annotation approximates.
 *
 * Also the prompt format every role shares (SFT, rollout, evaluation), so they cannot drift apart.
 */

import type { NegativeSynthesizer } from "./negatives.ts";
import { buildPairs, type CooperPair, formatRmInput } from "./pairs.ts";
import { mixSeed, Rng } from "./rng.ts";
import type { MathTask } from "./tasks/task.ts";
import { verify } from "./verifier.ts";

/** The policy's prompt for a question: the question, then a newline after which the solution is written. */
export function formatPrompt(question: string): string {
  return `${question}\n`;
}

/** One labelled RM example. */
export interface LabelledCompletion {
  question: string;
  reference: string;
  completion: string;
  /** 1 = the verifier says correct, 0 = incorrect or unparseable. */
  label: number;
  /** The RM input text (see {@link formatRmInput}). */
  input: string;
}

/** Options for {@link buildLabelledSet}. */
export interface LabelledSetOptions {
  /** Number of examples (default 256). */
  size?: number;
  /** Target fraction labelled correct (default 0.5). */
  positiveFraction?: number;
  synthesizer: NegativeSynthesizer;
  seed?: number;
}

/** Raised when the tasks cannot yield the requested set (e.g. no task has a solution). */
export class RmDataError extends Error {
  override name = "RmDataError";
}

/**
 * A VerifyRM-style labelled set: tasks' reference solutions as candidate positives and synthesized rewrites as
 * candidate negatives, each labelled by the verifier. Tasks without a solution are skipped.
 */
export async function buildLabelledSet(
  tasks: readonly MathTask[],
  options: LabelledSetOptions,
): Promise<LabelledCompletion[]> {
  const size = options.size ?? 256;
  const wantPositive = Math.round(size * (options.positiveFraction ?? 0.5));
  const seed = options.seed ?? 0;
  const usable = new Rng(seed).shuffle(tasks.filter((t) => t.solution !== undefined));
  if (usable.length === 0) throw new RmDataError("Cannot build a labelled RM set: no task has a solution");
  const positives: LabelledCompletion[] = [];
  const negatives: LabelledCompletion[] = [];
  for (let i = 0; positives.length + negatives.length < size && i < usable.length * 4; i++) {
    const task = usable[i % usable.length]!;
    const wantsPositive = positives.length < wantPositive &&
      (negatives.length >= size - wantPositive || i % 2 === 0);
    let completion = task.solution!;
    if (!wantsPositive) {
      const rng = new Rng(mixSeed(seed, i));
      const candidates = await options.synthesizer.candidates(
        { question: task.question, reference: task.answer, response: completion },
        rng,
      );
      if (candidates.length === 0) continue;
      completion = rng.pick(candidates).text;
    }
    const label = verify(completion, task.answer).verdict === "correct" ? 1 : 0;
    const item = {
      question: task.question,
      reference: task.answer,
      completion,
      label,
      input: formatRmInput(task.question, task.answer, completion),
    };
    if (label === 1 && positives.length < wantPositive) positives.push(item);
    else if (label === 0 && negatives.length < size - wantPositive) negatives.push(item);
  }
  return new Rng(mixSeed(seed, -1)).shuffle([...positives, ...negatives]);
}

/** A held-out set of verified (reference solution, rewrite) pairs for RM pairwise accuracy; `group` indexes the tasks with a solution. */
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
