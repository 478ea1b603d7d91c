/**
 * Data for the reward model outside the RL loop: a held-out set of verified pairs for measuring RM pairwise
 * accuracy (the pretraining labelled set is built by the `rm-pretrain` job in `coordinator/run/warmup.ts`).
 *
 * Also the prompt format every role shares (SFT, rollout, evaluation), so they cannot drift apart.
 */

import type { ChatMessage } from "../engine/tokenizers/mod.ts";
import type { NegativeSynthesizer } from "./negatives.ts";
import { buildPairs, type CooperPair } from "./pairs.ts";
import { mixSeed, Rng } from "../shared/mod.ts";
import type { MathTask } from "./tasks/task.ts";
import { verify } from "./verify/mod.ts";

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

/** One verifier-labelled RM pretraining example. */
export interface LabelledCompletion {
  question: string;
  reference: string;
  completion: string;
  /** 1 when the verifier finds the completion's final answer correct, else 0. */
  label: number;
  /** Where the completion came from (`policy`, `reference`, a rewrite strategy, `bare`). */
  source: string;
}

/** A task and completions a policy sampled for it (any temperatures). */
export interface SampledTask {
  task: MathTask;
  samples: readonly string[];
}

/** Options for {@link buildLabelledSet}. */
export interface LabelledSetOptions {
  synthesizer: NegativeSynthesizer;
  seed: number;
  /** Rewrites proposed per correct completion (policy sample or reference solution); default 2. */
  rewritesPerPositive?: number;
  /** Probability of adding a bare `#### n` answer (right or wrong) per task; default 0.25. */
  bareFraction?: number;
}

/**
 * The RM pretraining set, labelled by the rule verifier: for each task the policy's own samples (right and wrong,
 * as it writes them), the reference solution, verified-wrong rewrites of every correct completion (hard
 * negatives that differ from a positive in one slip) and sometimes a bare answer. Rows of one task stay together;
 * duplicates within a task are dropped. Deterministic in `seed`.
 */
export async function buildLabelledSet(
  sampled: readonly SampledTask[],
  options: LabelledSetOptions,
): Promise<LabelledCompletion[]> {
  const rewrites = options.rewritesPerPositive ?? 2;
  const bare = options.bareFraction ?? 0.25;
  const out: LabelledCompletion[] = [];
  for (const [t, { task, samples }] of sampled.entries()) {
    const rng = new Rng(mixSeed(options.seed, t));
    const seen = new Set<string>();
    const add = (completion: string, source: string) => {
      if (seen.has(completion) || completion.trim() === "") return;
      seen.add(completion);
      const label = verify(completion, task.answer).verdict === "correct" ? 1 : 0;
      out.push({ question: task.question, reference: task.answer, completion, label, source });
    };
    for (const s of samples) add(s, "policy");
    if (task.solution !== undefined) add(task.solution, "reference");
    const positives = [...seen].filter((c) => verify(c, task.answer).verdict === "correct");
    for (const positive of positives) {
      const candidates = await options.synthesizer.candidates(
        { question: task.question, reference: task.answer, response: positive },
        rng.fork(),
      );
      for (const c of candidates.slice(0, rewrites)) add(c.text, c.strategy);
    }
    if (rng.next() < bare) {
      const wrong = Number(task.answer) + rng.pick([-2, -1, 1, 2]);
      add(`#### ${rng.next() < 0.5 ? task.answer : wrong}`, "bare");
    }
  }
  return out;
}

/**
 * Class-balanced batches for RM pretraining: each batch takes half its rows from the positives and half from the
 * negatives, each side cycling through its own seeded reshuffles. Policy samples are mostly wrong or mostly right
 * depending on the policy; without balancing, BCE learns the base rate first and σ(RM) > ½ stops meaning "correct".
 */
export class BalancedSampler<T extends { label: number }> {
  readonly #sides: { items: T[]; queue: T[]; round: number }[];
  readonly #seed: number;

  constructor(items: readonly T[], seed: number) {
    const pos = items.filter((i) => i.label >= 0.5);
    const neg = items.filter((i) => i.label < 0.5);
    if (pos.length === 0 || neg.length === 0) {
      throw new RangeError(
        `Cannot balance RM batches: ${pos.length} positive and ${neg.length} negative items (need both)`,
      );
    }
    this.#sides = [pos, neg].map((side) => ({ items: side, queue: [], round: 0 }));
    this.#seed = seed;
  }

  /** The next `size` items: ⌈size/2⌉ positives, then ⌊size/2⌋ negatives. */
  next(size: number): T[] {
    return this.#sides.flatMap((side, s) => {
      const want = s === 0 ? Math.ceil(size / 2) : Math.floor(size / 2);
      while (side.queue.length < want) {
        side.queue.push(...new Rng(mixSeed(this.#seed, s, side.round++)).shuffle(side.items));
      }
      return side.queue.splice(0, want);
    });
  }
}
