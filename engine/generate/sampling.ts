/**
 * Next-token sampling on plain logits rows: greedy, temperature, top-k and top-p (nucleus), with a seeded RNG.
 * Runs in JS on the decode graph's last-position logits; for one row of a 150k vocabulary that is well under the
 * cost of the decode step itself.
 */
import { CoopError } from "../../shared/mod.ts";
import type { Rng } from "../../shared/mod.ts";

/** How to pick the next token. `temperature: 0` (the default) is greedy. */
export interface SamplingOptions {
  /** Divides the logits; 0 means greedy (argmax). Default 0. */
  temperature?: number;
  /** Keep only the k most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 or undefined: all). */
  topP?: number;
}

/** One sampled token with its log-probabilities. */
export interface SampledToken {
  token: number;
  /** log softmax(logits / T)[token] with T = temperature (1 when greedy): what a learner recomputes. */
  logprob: number;
  /** log-probability under the distribution actually sampled from (after top-k/top-p renormalisation). */
  samplingLogprob: number;
}

/** Raised for invalid sampling options. */
export class SamplingError extends CoopError {
  override name = "SamplingError";
}

/** Validates sampling options, naming the bad one. */
export function checkSamplingOptions(options: SamplingOptions): void {
  const { temperature = 0, topK = 0, topP = 1 } = options;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new SamplingError(`Invalid sampling option: temperature must be a finite number >= 0, got ${temperature}`);
  }
  if (!Number.isInteger(topK) || topK < 0) {
    throw new SamplingError(`Invalid sampling option: topK must be an integer >= 0, got ${topK}`);
  }
  if (!(topP > 0 && topP <= 1)) throw new SamplingError(`Invalid sampling option: topP must be in (0, 1], got ${topP}`);
}

/** Index of the largest value (first one on ties, like torch.argmax). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < row.length; i++) {
    if (row[i]! > bestValue) {
      bestValue = row[i]!;
      best = i;
    }
  }
  return best;
}

/** log-sum-exp of `row / scale`, computed stably. */
function logSumExp(row: ArrayLike<number>, scale: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]! / scale);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! / scale - max);
  return max + Math.log(sum);
}

/** Picks the next token from one row of logits. */
export function sampleToken(row: ArrayLike<number>, rng: Rng, options: SamplingOptions = {}): SampledToken {
  const { temperature = 0, topK = 0, topP = 1 } = options;
  if (temperature === 0) {
    const token = argmax(row);
    const logprob = row[token]! - logSumExp(row, 1);
    return { token, logprob, samplingLogprob: 0 };
  }
  const lse = logSumExp(row, temperature);
  const vocab = row.length;
  let candidates: number[];
  if ((topK > 0 && topK < vocab) || topP < 1) {
    candidates = sortedHead(row, { temperature, lse, topK: topK < vocab ? topK : 0, topP });
    if (topK > 0 && topK < vocab) candidates.length = topK;
    if (topP < 1) {
      // Nucleus over the (top-k filtered) distribution, renormalised as transformers' TopPLogitsWarper does
      // after top-k: keep tokens until the cumulative probability reaches p, always keeping the first. Without
      // top-k the candidates may be only the head of the vocabulary, so normalise over the full one.
      const keptLse = topK > 0 && topK < vocab ? logSumExpOf(row, candidates, temperature) : lse;
      let cumulative = 0;
      let keep = 0;
      while (keep < candidates.length) {
        cumulative += Math.exp(row[candidates[keep]!]! / temperature - keptLse);
        keep++;
        if (cumulative >= topP) break;
      }
      candidates.length = keep;
    }
  } else {
    candidates = [];
  }
  if (candidates.length === 0) {
    // No truncation: inverse-CDF over the full vocabulary without materialising a candidate list.
    let u = rng.next();
    for (let i = 0; i < vocab; i++) {
      u -= Math.exp(row[i]! / temperature - lse);
      if (u < 0) {
        const logprob = row[i]! / temperature - lse;
        return { token: i, logprob, samplingLogprob: logprob };
      }
    }
    const last = argmax(row);
    const logprob = row[last]! / temperature - lse;
    return { token: last, logprob, samplingLogprob: logprob };
  }
  const keptLse = logSumExpOf(row, candidates, temperature);
  let u = rng.next();
  let token = candidates[0]!;
  for (const candidate of candidates) {
    u -= Math.exp(row[candidate]! / temperature - keptLse);
    token = candidate;
    if (u < 0) break;
  }
  return { token, logprob: row[token]! / temperature - lse, samplingLogprob: row[token]! / temperature - keptLse };
}

function logSumExpOf(row: ArrayLike<number>, indices: number[], scale: number): number {
  let max = -Infinity;
  for (const i of indices) max = Math.max(max, row[i]! / scale);
  let sum = 0;
  for (const i of indices) sum += Math.exp(row[i]! / scale - max);
  return max + Math.log(sum);
}

/**
 * The most likely tokens in descending order, enough of them for top-k/top-p: sorting a 150k vocabulary per token
 * costs ~20 ms, so candidates above a probability floor are tried first. A floor q is enough when at least k tokens
 * pass it (for top-k) or the passing mass reaches p (for top-p): every token below q ranks after all of them.
 */
function sortedHead(
  row: ArrayLike<number>,
  options: { temperature: number; lse: number; topK: number; topP: number },
): number[] {
  const { temperature, lse, topK, topP } = options;
  const byLogit = (a: number, b: number) => row[b]! - row[a]! || a - b;
  for (const floor of [1e-4, 1e-7]) {
    const cut = (Math.log(floor) + lse) * temperature;
    const head: number[] = [];
    let mass = 0;
    for (let i = 0; i < row.length; i++) {
      if (row[i]! >= cut) {
        head.push(i);
        mass += Math.exp(row[i]! / temperature - lse);
      }
    }
    if (topK > 0 ? head.length >= topK : mass >= topP) return head.sort(byLogit);
  }
  return Array.from({ length: row.length }, (_, i) => i).sort(byLogit);
}
