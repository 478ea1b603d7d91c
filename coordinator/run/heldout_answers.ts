/**
 * The SFT policy's answers to held-out tasks, as the RM's held-out check: RM pretraining samples them, reports the
 * RM on them, and writes them next to the RM (`heldout_answers.json`), so every RL run can score its RM on the same
 * answers at every evaluation (`eval.rmAnswers`) — the before/after of Cooper's updates on one fixed set.
 */
import { z } from "zod";
import type { ActorHandle } from "../../actors/mod.ts";
import type { RewardActor } from "../../actors/roles/mod.ts";
import { rmAgreement, type SampledTask, type Verdict } from "../../rl/mod.ts";
import { ConfigError } from "../../shared/mod.ts";
import { absolutePath } from "./checkpoint.ts";

/** Held-out answers per scoring call. */
const SCORE_CHUNK = 128;

/** What a scorer needs: the RewardActor's `score` (or a colocated learner's). */
type Scorer = Pick<ActorHandle<RewardActor>, "score">;

/** The RM against the verifier on held-out policy answers: within-prompt pairwise and σ > ½ accuracy. */
export async function sampleAccuracy(
  scorer: Scorer,
  held: readonly SampledTask[],
  rm: { blobPrefix: string; version: number },
): Promise<{ rm_sample_pair_accuracy: number; rm_accuracy: number; rm_sample_pairs: number }> {
  const items = held.flatMap(({ task, samples }) =>
    samples.map((response) => ({ question: task.question, reference: task.answer, response }))
  );
  const groups = held.flatMap(({ samples }, g) => samples.map(() => String(g)));
  // In chunks: the scorer runs a call's items as one batch, and 768 answers at once took its process to 2 GB.
  const scores: number[] = [];
  const verdicts: Verdict[] = [];
  for (let at = 0; at < items.length; at += SCORE_CHUNK) {
    const scored = await scorer.score({ items: items.slice(at, at + SCORE_CHUNK), rm });
    scores.push(...scored.scores);
    verdicts.push(...scored.verdicts);
  }
  const agreement = rmAgreement(scores, verdicts, groups);
  return {
    rm_sample_pair_accuracy: agreement.rankAccuracy,
    rm_accuracy: agreement.accuracy,
    rm_sample_pairs: agreement.rankPairs,
  };
}

const FILE = z.array(z.object({
  question: z.string(),
  answer: z.string(),
  samples: z.array(z.string()),
}));

/** Writes the held-out answers as JSON (question, reference answer, samples per task). */
export async function writeHeldoutAnswers(path: string, held: readonly SampledTask[]): Promise<void> {
  const absolute = await absolutePath(path);
  await Deno.mkdir(absolute.slice(0, absolute.lastIndexOf("/")), { recursive: true });
  const rows = held.map(({ task, samples }) => ({ question: task.question, answer: task.answer, samples }));
  await Deno.writeTextFile(absolute, JSON.stringify(rows) + "\n");
}

/** Reads a {@link writeHeldoutAnswers} file; a clear error names the file when it is missing or malformed. */
export async function readHeldoutAnswers(path: string): Promise<SampledTask[]> {
  let parsed;
  try {
    parsed = FILE.parse(JSON.parse(await Deno.readTextFile(path)));
  } catch (error) {
    throw new ConfigError(`Cannot read eval.rmAnswers ${path}: ${(error as Error).message.slice(0, 200)}`);
  }
  return parsed.map((row, i) => ({
    task: { id: `rm-heldout-${i}`, question: row.question, answer: row.answer },
    samples: row.samples,
  }));
}
