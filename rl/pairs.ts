/**
 * Cooper's reward-model training pairs and the reward-model losses as plain numbers.
 *
 * Per prompt group: a response the rule verifier marks correct is the positive; a synthesized rewrite of it whose
 * final answer the verifier says is wrong is the negative. Groups with no correct response, or whose rewrites all
 * fail the verifier filter, are masked out of the RM update (Cooper §3: only verified pairs train the RM, which is
 * what keeps the policy from hacking it).
 */

import {
  type NegativeCandidate,
  type NegativeStrategy,
  type NegativeSynthesizer,
  repairToReference,
} from "./negatives.ts";
import { mixSeed, Rng } from "../shared/mod.ts";
import { type Verdict, verify } from "./verify/mod.ts";

/**
 * How the RM's input text is laid out. `tags` is the paper's VerifyRM prompt shape (reference before the
 * completion). `ref-last` puts the reference after the completion, in the `#### n` form the completion's own final
 * answer takes, so the two answers sit a few characters apart right before the token the score is read at: a tiny
 * causal transformer then compares them with short relative-position attention instead of carrying the reference
 * across the whole completion (measured in docs/rl.md, "The RM sweep").
 */
export type RmLayout = "tags" | "ref-last";

/** The layout every role uses unless told otherwise (chosen by the RM sweep). */
export const DEFAULT_RM_LAYOUT: RmLayout = "ref-last";

/** The reward model's input text for one (question, reference answer, completion). */
export function formatRmInput(
  question: string,
  reference: string,
  completion: string,
  layout: RmLayout = DEFAULT_RM_LAYOUT,
): string {
  if (layout === "tags") {
    return `<question>${question}</question>\n<reference_answer>${reference}</reference_answer>\n<completion>${completion}</completion>`;
  }
  return `${question}\n${completion}\n<ref> #### ${reference}`;
}

/** One prompt's sampled responses (and their verdicts if the reward actor already computed them). */
export interface PromptGroup {
  question: string;
  reference: string;
  responses: readonly string[];
  verdicts?: readonly Verdict[];
}

/** A verified (positive, negative) pair and the RM input texts for both. */
export interface CooperPair {
  /** Index of the prompt group the pair came from. */
  group: number;
  /** Index of the positive among the group's responses (for a repaired positive: of the response it repairs). */
  positiveIndex: number;
  /** `repaired`: the positive is the negative repaired to the reference answer (`repairs`), not a sample. */
  positiveSource?: "sampled" | "repaired";
  positive: string;
  negative: string;
  strategy: NegativeStrategy;
  positiveInput: string;
  negativeInput: string;
}

/** Why groups were kept or masked. */
export interface PairCounts {
  groups: number;
  valid: number;
  noPositive: number;
  /** Had a positive, but no rewrite passed the verifier filter (or the synthesizer failed). */
  noValidNegative: number;
  /** Rewrites rejected because the verifier still found them correct or could not parse them. */
  rejectedNegatives: number;
  synthesizerErrors: number;
  /** Pairs whose positive is a wrong response repaired to the reference (`repairs`). */
  repaired: number;
}

/** Pairs for the valid groups, a per-group mask, and counts. */
export interface PairBatch {
  pairs: CooperPair[];
  mask: boolean[];
  counts: PairCounts;
}

/** Options for {@link buildPairs}. */
export interface BuildPairsOptions {
  synthesizer: NegativeSynthesizer;
  /** Seeds the choice of positive and the rewrites; mix in the step for a different draw each step. */
  seed?: number;
  /** Correct responses per group used as positives (default 1, the paper's one pair per group). */
  positivesPerGroup?: number;
  /** Verified-wrong negatives paired with each positive (default 1). */
  negativesPerPositive?: number;
  /**
   * Where negatives come from (default `rewrite`, the paper's): rewrites of the positive, the group's own responses
   * the verifier did not mark correct (`policy`), or those first and rewrites after them (`both`).
   */
  negatives?: NegativeSource;
  /**
   * Pairs (wrong response repaired to the reference answer, the wrong response) for each distinct verified-wrong
   * response: `none` (default, the paper's: no pair without a sampled positive), `unpaired` (for groups with no
   * correct sample, which otherwise give no pair) or `all` (every group, besides its sampled pairs).
   */
  repairs?: RepairMode;
}

/** Which groups get pairs with repaired positives (see {@link BuildPairsOptions.repairs}). */
export type RepairMode = "none" | "unpaired" | "all";

/** Where Cooper's negatives come from. */
export type NegativeSource = "rewrite" | "policy" | "both";

/** Builds Cooper pairs for a batch of prompt groups; never throws on a failing synthesizer (counted instead). */
export async function buildPairs(groups: readonly PromptGroup[], options: BuildPairsOptions): Promise<PairBatch> {
  const seed = options.seed ?? 0;
  const pairs: CooperPair[] = [];
  const mask: boolean[] = [];
  const counts: PairCounts = {
    groups: groups.length,
    valid: 0,
    noPositive: 0,
    noValidNegative: 0,
    rejectedNegatives: 0,
    synthesizerErrors: 0,
    repaired: 0,
  };
  const repairs = options.repairs ?? "none";
  for (const [g, group] of groups.entries()) {
    const rng = new Rng(mixSeed(seed, g));
    const verdicts = group.verdicts ?? group.responses.map((r) => verify(r, group.reference).verdict);
    const positives = rng.shuffle(group.responses.map((_, i) => i).filter((i) => verdicts[i] === "correct"));
    const repaired = repairs === "all" || (repairs === "unpaired" && positives.length === 0)
      ? repairedPairs(group, g, verdicts)
      : [];
    counts.repaired += repaired.length;
    if (positives.length === 0) {
      counts.noPositive++;
      mask.push(repaired.length > 0);
      if (repaired.length > 0) {
        pairs.push(...repaired);
        counts.valid++;
      }
      continue;
    }
    const found = [...await validPairs(group, g, { positives, verdicts }, options, rng, counts), ...repaired];
    mask.push(found.length > 0);
    if (found.length === 0) counts.noValidNegative++;
    else {
      pairs.push(...found);
      counts.valid++;
    }
  }
  return { pairs, mask, counts };
}

// Tries positives in (seeded) random order, so one positive that resists rewriting does not mask the group; stops
// at `positivesPerGroup` positives that got a negative, each with up to `negativesPerPositive` negatives.
async function validPairs(
  group: PromptGroup,
  g: number,
  { positives, verdicts }: { positives: number[]; verdicts: readonly Verdict[] },
  options: BuildPairsOptions,
  rng: Rng,
  counts: PairCounts,
): Promise<CooperPair[]> {
  const perPositive = options.negativesPerPositive ?? 1;
  const wanted = options.positivesPerGroup ?? 1;
  const source = options.negatives ?? "rewrite";
  // The policy's own wrong answers: every response the verifier did not mark correct, distinct, in seeded order.
  const own = source === "rewrite" ? [] : rng.shuffle([
    ...new Set(group.responses.filter((_, i) => verdicts[i] !== "correct")),
  ]);
  const out: CooperPair[] = [];
  let used = 0;
  for (const positiveIndex of positives) {
    if (used >= wanted) break;
    const positive = group.responses[positiveIndex]!;
    const negatives: { text: string; strategy: NegativeStrategy }[] = own.slice(0, perPositive)
      .map((text) => ({ text, strategy: "policy" }));
    if (source !== "policy" && negatives.length < perPositive) {
      const rewrites = await verifiedRewrites(group, positive, perPositive - negatives.length, options, rng, counts);
      if (rewrites === undefined) continue;
      negatives.push(...rewrites);
    }
    for (const negative of negatives) {
      out.push({
        group: g,
        positiveIndex,
        positive,
        negative: negative.text,
        strategy: negative.strategy,
        positiveInput: formatRmInput(group.question, group.reference, positive),
        negativeInput: formatRmInput(group.question, group.reference, negative.text),
      });
    }
    if (negatives.length > 0) used++;
  }
  return out;
}

/** (repaired, wrong) pairs for the group's distinct responses not verified correct whose repair the verifier accepts. */
function repairedPairs(group: PromptGroup, g: number, verdicts: readonly Verdict[]): CooperPair[] {
  const out: CooperPair[] = [];
  const seen = new Set<string>();
  for (const [i, negative] of group.responses.entries()) {
    if (verdicts[i] === "correct" || seen.has(negative)) continue;
    seen.add(negative);
    const positive = repairToReference(negative, group.reference);
    if (positive === undefined || verify(positive, group.reference).verdict !== "correct") continue;
    out.push({
      group: g,
      positiveIndex: i,
      positiveSource: "repaired",
      positive,
      negative,
      strategy: "policy",
      positiveInput: formatRmInput(group.question, group.reference, positive),
      negativeInput: formatRmInput(group.question, group.reference, negative),
    });
  }
  return out;
}

/** Up to `wanted` rewrites of `positive` that pass the verifier filter; undefined when the synthesizer failed. */
async function verifiedRewrites(
  group: PromptGroup,
  positive: string,
  wanted: number,
  options: BuildPairsOptions,
  rng: Rng,
  counts: PairCounts,
): Promise<NegativeCandidate[] | undefined> {
  let candidates;
  try {
    candidates = await options.synthesizer.candidates(
      { question: group.question, reference: group.reference, response: positive },
      rng.fork(),
    );
  } catch {
    counts.synthesizerErrors++;
    return undefined;
  }
  const kept: NegativeCandidate[] = [];
  for (const candidate of candidates) {
    if (kept.length >= wanted) break;
    // The verifier filter: keep a negative only when its final answer is parsed and differs from the reference.
    if (verify(candidate.text, group.reference).verdict === "incorrect") kept.push(candidate);
    else counts.rejectedNegatives++;
  }
  return kept;
}

/** log(1 + e^x), stable for large |x|. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** σ(x). */
export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * Pairwise (Bradley–Terry) RM loss mean(−log σ(s_pos − s_neg)) = mean(softplus(s_neg − s_pos)) over pairs whose
 * mask is true; 0 when none are valid (the update is then a no-op). The mean divides by max(valid, 1).
 */
export function pairwiseLoss(
  positiveScores: readonly number[],
  negativeScores: readonly number[],
  mask?: readonly boolean[],
): number {
  if (positiveScores.length !== negativeScores.length || (mask && mask.length !== positiveScores.length)) {
    throw new RangeError(
      `Cannot compute pairwiseLoss: ${positiveScores.length} positive scores, ${negativeScores.length} negative scores` +
        (mask ? `, ${mask.length} mask entries` : ""),
    );
  }
  let sum = 0;
  let n = 0;
  positiveScores.forEach((sp, i) => {
    if (mask && !mask[i]) return;
    sum += softplus(negativeScores[i]! - sp);
    n++;
  });
  return sum / Math.max(n, 1);
}

/**
 * VerifyRM's binary cross-entropy on logits: mean(softplus(s) − y·s) = mean(−y log σ(s) − (1−y) log(1−σ(s))),
 * labels in [0, 1], over masked-in entries; divides by max(count, 1).
 */
export function bceLoss(logits: readonly number[], labels: readonly number[], mask?: readonly boolean[]): number {
  if (logits.length !== labels.length || (mask && mask.length !== logits.length)) {
    throw new RangeError(
      `Cannot compute bceLoss: ${logits.length} logits, ${labels.length} labels` +
        (mask ? `, ${mask.length} mask entries` : ""),
    );
  }
  let sum = 0;
  let n = 0;
  logits.forEach((s, i) => {
    if (mask && !mask[i]) return;
    sum += softplus(s) - labels[i]! * s;
    n++;
  });
  return sum / Math.max(n, 1);
}
