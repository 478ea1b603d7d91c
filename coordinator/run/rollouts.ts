/**
 * The data-producing half of a step, as the driver sees it: `produceBatch` samples a step's prompts on the
 * rollout pool with a given policy version, then gets verdicts + RM scores and reference log-probs; `evaluate`
 * runs greedy decoding on the held-out set and measures the RM on held-out verification pairs. Where the work runs,
 * and retrying it when an actor dies, is the runtime's business (pools and idempotent methods).
 */
import { mixSeed } from "../../shared/mod.ts";
import type { ActorPool } from "../../actors/mod.ts";
import type { RewardActor, RolloutActor, RolloutSample } from "../../actors/roles/mod.ts";
import type { ActorHandle } from "../../actors/mod.ts";
import type { VerificationPair } from "./data.ts";
import { accuracyOf, type MathTask, pairwiseAccuracy, type PromptGroup, sigmoid, type Verdict } from "../../rl/mod.ts";

/** One step's samples, scored. */
export interface ScoredBatch {
  step: number;
  /** Policy version the samples were generated with. */
  version: number;
  rmVersion: number;
  /** Digest of the RM weights that scored the samples (each sample carries its policy digest). */
  rmDigest?: string;
  samples: RolloutSample[];
  verdicts: Verdict[];
  /** RM logits, one per sample. */
  rmScores: number[];
  refLogprobs: number[][];
  /** Wall time of rollout + scoring (ms). */
  ms: number;
}

/** What producing a batch needs. */
export interface ProduceOptions {
  rollouts: ActorPool<RolloutActor>;
  reward: ActorHandle<RewardActor>;
  reference: ActorHandle<{ logprobs(pairs: { promptIds: number[]; responseIds: number[] }[]): number[][] }>;
  policyPrefix: string;
  rmPrefix: string;
  samplesPerPrompt: number;
  maxNewTokens: number;
  temperature: number;
  seed: number;
  /** Prompt chunks per step (fixed by config, so results do not depend on which actor takes which chunk). */
  chunks: number;
  /** Called with the sample ids as soon as generation returned (before scoring), for the ledger. */
  onGenerated?: (ids: string[]) => void;
}

/** Splits `items` into `n` nearly equal consecutive chunks (none empty). */
export function split<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  const size = Math.ceil(items.length / Math.max(1, n));
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Samples, scores and reference-scores one step's tasks. `tag` makes sample ids unique (step and attempt). */
export async function produceBatch(
  options: ProduceOptions,
  step: number,
  tasks: readonly MathTask[],
  versions: { policy: number; rm: number; tag: string },
): Promise<ScoredBatch> {
  const started = performance.now();
  const prompts = tasks.map((t, i) => ({ id: `${versions.tag}.p${i}`, question: t.question, answer: t.answer }));
  const parts = await Promise.all(
    split(prompts, options.chunks).map((chunk, c) =>
      options.rollouts.submit((actor) =>
        actor.rollout({
          version: versions.policy,
          blobPrefix: options.policyPrefix,
          prompts: chunk,
          samples: options.samplesPerPrompt,
          maxNewTokens: options.maxNewTokens,
          temperature: options.temperature,
          seed: mixSeed(options.seed, step, c),
        })
      )
    ),
  );
  const samples = parts.flat();
  options.onGenerated?.(samples.map((s) => s.id));
  const [scored, refLogprobs] = await Promise.all([
    options.reward.score({
      items: samples.map((s) => ({ question: s.question, reference: s.answer, response: s.text })),
      rm: { blobPrefix: options.rmPrefix, version: versions.rm },
    }),
    options.reference.logprobs(samples.map((s) => ({ promptIds: s.promptIds, responseIds: s.responseIds }))),
  ]);
  return {
    step,
    version: versions.policy,
    rmVersion: versions.rm,
    rmDigest: scored.rmDigest,
    samples,
    verdicts: scored.verdicts,
    rmScores: scored.scores,
    refLogprobs,
    ms: performance.now() - started,
  };
}

/** Held-out results. */
export interface EvalResult {
  /** Verifier accuracy of greedy answers. */
  accuracy: number;
  /** Mean σ(RM) of those greedy answers. */
  rmReward: number;
  /** Fraction of held-out (solution, verified wrong rewrite) pairs the RM orders correctly; NaN without pairs. */
  rmPairAccuracy: number;
  /** The first few greedy answers, to see what the policy writes (and what the RM thinks of it). */
  examples: { question: string; reference: string; response: string; verdict: Verdict; rmReward: number }[];
}

/** Held-out answers kept in {@link EvalResult.examples}. */
export const EVAL_EXAMPLES = 6;

/** Greedy decoding on the held-out tasks with the verifier, and the RM on held-out verification pairs. */
export async function evaluate(
  options: ProduceOptions,
  tasks: readonly MathTask[],
  pairs: readonly VerificationPair[],
  versions: { policy: number; rm: number },
): Promise<EvalResult> {
  const prompts = tasks.map((t, i) => ({ id: `eval.${i}`, question: t.question, answer: t.answer }));
  const parts = await Promise.all(
    split(prompts, options.chunks).map((chunk) =>
      options.rollouts.submit((actor) =>
        actor.rollout({
          version: versions.policy,
          blobPrefix: options.policyPrefix,
          prompts: chunk,
          samples: 1,
          maxNewTokens: options.maxNewTokens,
          temperature: 0,
          seed: 0,
        })
      )
    ),
  );
  const samples = parts.flat();
  const rm = { blobPrefix: options.rmPrefix, version: versions.rm };
  const scored = await options.reward.score({
    items: samples.map((s) => ({ question: s.question, reference: s.answer, response: s.text })),
    rm,
  });
  const rmPairAccuracy = pairs.length === 0 ? Number.NaN : await verificationAccuracy(options.reward, pairs, rm);
  return {
    accuracy: accuracyOf(scored.verdicts).accuracy,
    rmReward: meanRmReward(scored.scores),
    rmPairAccuracy,
    examples: samples.slice(0, EVAL_EXAMPLES).map((s, i) => ({
      question: s.question,
      reference: s.answer,
      response: s.text,
      verdict: scored.verdicts[i]!,
      rmReward: sigmoid(scored.scores[i]!),
    })),
  };
}

/** Fraction of verification pairs the RM at `rm` scores positive above negative. */
export async function verificationAccuracy(
  reward: ActorHandle<RewardActor>,
  pairs: readonly VerificationPair[],
  rm: { blobPrefix: string; version: number },
): Promise<number> {
  const scored = await reward.score({
    items: [
      ...pairs.map((p) => ({ question: p.question, reference: p.reference, response: p.positive })),
      ...pairs.map((p) => ({ question: p.question, reference: p.reference, response: p.negative })),
    ],
    rm,
  });
  return pairwiseAccuracy(scored.scores.slice(0, pairs.length), scored.scores.slice(pairs.length));
}

/** Mean σ(RM logit) over the finite scores (a non-finite score is invalid and skipped); NaN when none is finite. */
export function meanRmReward(scores: readonly number[]): number {
  const finite = scores.filter(Number.isFinite);
  return finite.length === 0 ? Number.NaN : finite.reduce((a, s) => a + sigmoid(s), 0) / finite.length;
}

/** The batch with only the samples where `keep` is true (the per-sample arrays stay aligned). */
export function keepSamples(batch: ScoredBatch, keep: readonly boolean[]): ScoredBatch {
  const pick = <T>(items: readonly T[]) => items.filter((_, i) => keep[i]);
  return {
    ...batch,
    samples: pick(batch.samples),
    verdicts: pick(batch.verdicts),
    rmScores: pick(batch.rmScores),
    refLogprobs: pick(batch.refLogprobs),
  };
}

/** The batch's responses and verdicts grouped by prompt, in first-seen order (what Cooper builds pairs from). */
export function promptGroups(
  batch: ScoredBatch,
): (PromptGroup & { responses: string[]; verdicts: ScoredBatch["verdicts"] })[] {
  const groups = new Map<string, PromptGroup & { responses: string[]; verdicts: ScoredBatch["verdicts"] }>();
  batch.samples.forEach((s, i) => {
    const group = groups.get(s.promptId) ??
      { question: s.question, reference: s.answer, responses: [], verdicts: [] };
    group.responses.push(s.text);
    group.verdicts.push(batch.verdicts[i]!);
    groups.set(s.promptId, group);
  });
  return [...groups.values()];
}
