/**
 * The names of the batch tensors: the contract between the packers (`batches.ts`, which build them) and the
 * training losses (`training_losses.ts`, which read them). A name spelled differently on one side is not a type
 * error anywhere else — the loss would only fail at graph-build time — so both sides take them from here.
 *
 * Layouts (T = padded sequence length; per-token tensors are over next-token pairs, hence T − 1):
 * - GRPO: `input_ids`, `attention_mask` int64 [B, T]; `old_logp`, `ref_logp`, `response_mask` float32 [B, T−1]
 *   (`response_mask[b][t]` = 1 when token t+1 is a generated response token); `advantages` float32 [B].
 * - Pairwise: `pos_ids`, `pos_mask`, `neg_ids`, `neg_mask` int64 [N, T]; `pair_mask` float32 [N].
 * - BCE: `input_ids`, `attention_mask` int64 [N, T]; `labels`, `label_mask` float32 [N].
 * - Cooper with an anchor: either of the last two, plus an optional `loss_weight` float32 [1].
 */

/** The GRPO batch's tensors. */
export const GRPO_BATCH = [
  "input_ids",
  "attention_mask",
  "old_logp",
  "ref_logp",
  "response_mask",
  "advantages",
] as const;
/** The pairwise RM batch's tensors. */
export const PAIR_BATCH = ["pos_ids", "pos_mask", "neg_ids", "neg_mask", "pair_mask"] as const;
/** The labelled (BCE) RM batch's tensors. */
export const BCE_BATCH = ["input_ids", "attention_mask", "labels", "label_mask"] as const;
/** The optional scale of a Cooper micro-batch's loss. */
export const LOSS_WEIGHT = "loss_weight";

/** A GRPO batch of `T`s (tensors on the learner's side, graph symbols on the loss's). */
export type GrpoBatch<T> = Record<(typeof GRPO_BATCH)[number], T>;
/** A pairwise RM batch. */
export type PairwiseBatch<T> = Record<(typeof PAIR_BATCH)[number], T>;
/** A labelled (BCE) RM batch. */
export type LabelledBatch<T> = Record<(typeof BCE_BATCH)[number], T>;
