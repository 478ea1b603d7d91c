/**
 * Packs token-level samples into the static-shape tensors the training losses read (`training_losses.ts`; the
 * names are `batch_layout.ts`'s). The
 * one subtle part is alignment: the loss sees next-token pairs, so position t scores token t+1, and response
 * token j of a sample with a P-token prompt sits at position P − 1 + j. Getting that wrong by one is silent (the
 * loss still runs), so it lives here, once, with a test that on-policy log-probs give a ratio of exactly 1.
 *
 * Rows are right-padded to a common length rounded up to `lengthBucket`; `rows` pads the batch itself to a fixed
 * size with dummy rows (one real pad token, masked out of the loss) so a learner compiles one graph per bucket.
 */

import { type Tensor, tensor } from "../shared/mod.ts";
import type { GrpoBatch, LabelledBatch, PairwiseBatch } from "./batch_layout.ts";
import { GrpoInputError } from "./grpo.ts";

/** One sampled response, ready for the GRPO loss. */
export interface GrpoSample {
  /** Prompt tokens, starting with bos (so at least one token). */
  promptIds: readonly number[];
  responseIds: readonly number[];
  /** Behaviour-policy log-prob of each response token (temperature 1), one per response token. */
  oldLogprobs: readonly number[];
  /** Reference-policy log-prob of each response token. */
  refLogprobs: readonly number[];
  advantage: number;
}

/** Options for the batch packers. */
export interface PackOptions {
  padId: number;
  /** Sequence length is rounded up to a multiple of this (default 16). */
  lengthBucket?: number;
  /** Pad the batch to exactly this many rows (default: no padding rows). */
  rows?: number;
}

function checkRows(what: string, n: number, rows: number | undefined): number {
  const target = rows ?? n;
  if (n === 0) throw new GrpoInputError(`Cannot pack a ${what} batch: it is empty`);
  if (n > target) throw new GrpoInputError(`Cannot pack ${n} ${what} rows into a batch of ${target}`);
  return target;
}

function lengthOf(longest: number, bucket = 16): number {
  return Math.max(bucket, Math.ceil(longest / bucket) * bucket);
}

function finite(what: string, i: number, values: readonly number[]): void {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new GrpoInputError(`Cannot pack sample ${i}: ${what}[${bad}] is ${values[bad]}`);
}

/** GRPO tensors: input_ids, attention_mask [B, T]; old_logp, ref_logp, response_mask [B, T−1]; advantages [B]. */
export function packGrpoBatch(samples: readonly GrpoSample[], options: PackOptions): GrpoBatch<Tensor> {
  const b = checkRows("GRPO", samples.length, options.rows);
  samples.forEach((s, i) => {
    const r = s.responseIds.length;
    if (s.promptIds.length === 0) throw new GrpoInputError(`Cannot pack sample ${i}: the prompt is empty (no bos)`);
    if (s.oldLogprobs.length !== r || s.refLogprobs.length !== r) {
      throw new GrpoInputError(
        `Cannot pack sample ${i}: ${r} response tokens but ${s.oldLogprobs.length} old and ` +
          `${s.refLogprobs.length} reference log-probs`,
      );
    }
    finite("oldLogprobs", i, s.oldLogprobs);
    finite("refLogprobs", i, s.refLogprobs);
    if (!Number.isFinite(s.advantage)) throw new GrpoInputError(`Cannot pack sample ${i}: advantage is ${s.advantage}`);
  });
  const t = lengthOf(Math.max(...samples.map((s) => s.promptIds.length + s.responseIds.length)), options.lengthBucket);
  const ids = new Array<number>(b * t).fill(options.padId);
  const mask = new Array<number>(b * t).fill(0);
  const old = new Float32Array(b * (t - 1));
  const ref = new Float32Array(b * (t - 1));
  const responseMask = new Float32Array(b * (t - 1));
  const advantages = new Float32Array(b);
  for (let row = 0; row < b; row++) {
    const s = samples[row];
    if (s === undefined) {
      mask[row * t] = 1; // a dummy row: one real pad token, so no attention row is empty; nothing in the loss
      continue;
    }
    const seq = [...s.promptIds, ...s.responseIds];
    seq.forEach((id, i) => {
      ids[row * t + i] = id;
      mask[row * t + i] = 1;
    });
    const p = s.promptIds.length;
    s.responseIds.forEach((_, j) => {
      const at = row * (t - 1) + p - 1 + j;
      old[at] = s.oldLogprobs[j]!;
      ref[at] = s.refLogprobs[j]!;
      responseMask[at] = 1;
    });
    advantages[row] = s.advantage;
  }
  return {
    input_ids: tensor("int64", [b, t], ids),
    attention_mask: tensor("int64", [b, t], mask),
    old_logp: tensor("float32", [b, t - 1], old),
    ref_logp: tensor("float32", [b, t - 1], ref),
    response_mask: tensor("float32", [b, t - 1], responseMask),
    advantages: tensor("float32", [b], advantages),
  };
}

/** Right-padded ids and mask of sequences, plus dummy rows, at a common length. */
function packSequences(seqs: readonly (readonly number[])[], b: number, t: number, padId: number) {
  const ids = new Array<number>(b * t).fill(padId);
  const mask = new Array<number>(b * t).fill(0);
  for (let row = 0; row < b; row++) {
    const seq = seqs[row];
    if (seq === undefined) {
      mask[row * t] = 1;
      continue;
    }
    seq.forEach((id, i) => {
      ids[row * t + i] = id;
      mask[row * t + i] = 1;
    });
  }
  return { ids: tensor("int64", [b, t], ids), mask: tensor("int64", [b, t], mask) };
}

function nonEmpty(what: string, seqs: readonly (readonly number[])[]): void {
  const empty = seqs.findIndex((s) => s.length === 0);
  if (empty >= 0) throw new GrpoInputError(`Cannot pack ${what} ${empty}: the sequence is empty`);
}

/** Pairwise RM tensors: pos_ids, pos_mask, neg_ids, neg_mask [N, T]; pair_mask [N]. */
export function packPairBatch(
  pairs: readonly { positive: readonly number[]; negative: readonly number[] }[],
  options: PackOptions,
): PairwiseBatch<Tensor> {
  const n = checkRows("pair", pairs.length, options.rows);
  nonEmpty("positive", pairs.map((p) => p.positive));
  nonEmpty("negative", pairs.map((p) => p.negative));
  const t = lengthOf(Math.max(...pairs.flatMap((p) => [p.positive.length, p.negative.length])), options.lengthBucket);
  const pos = packSequences(pairs.map((p) => p.positive), n, t, options.padId);
  const neg = packSequences(pairs.map((p) => p.negative), n, t, options.padId);
  const pairMask = Float32Array.from({ length: n }, (_, i) => (i < pairs.length ? 1 : 0));
  return {
    pos_ids: pos.ids,
    pos_mask: pos.mask,
    neg_ids: neg.ids,
    neg_mask: neg.mask,
    pair_mask: tensor("float32", [n], pairMask),
  };
}

/** VerifyRM BCE tensors: input_ids, attention_mask [N, T]; labels, label_mask [N]. */
export function packLabelledBatch(
  items: readonly { ids: readonly number[]; label: number }[],
  options: PackOptions,
): LabelledBatch<Tensor> {
  const n = checkRows("labelled", items.length, options.rows);
  nonEmpty("item", items.map((it) => it.ids));
  items.forEach((it, i) => {
    if (!(it.label >= 0 && it.label <= 1)) {
      throw new GrpoInputError(`Cannot pack item ${i}: label ${it.label} is not in [0, 1]`);
    }
  });
  const t = lengthOf(Math.max(...items.map((it) => it.ids.length)), options.lengthBucket);
  const { ids, mask } = packSequences(items.map((it) => it.ids), n, t, options.padId);
  const labels = Float32Array.from({ length: n }, (_, i) => items[i]?.label ?? 0);
  const labelMask = Float32Array.from({ length: n }, (_, i) => (i < items.length ? 1 : 0));
  return {
    input_ids: ids,
    attention_mask: mask,
    labels: tensor("float32", [n], labels),
    label_mask: tensor("float32", [n], labelMask),
  };
}
