/**
 * `Trainer` loss functions for the three learners: GRPO for the policy, the pairwise Cooper update and the
 * VerifyRM BCE for the reward model. They wire a decoder's log-probs/scores (`engine/score`) into the graph losses
 * of `losses.ts`, and name the batch tensors a learner must feed.
 *
 * Batch layouts (T = padded sequence length; per-token tensors are over next-token pairs, hence T − 1):
 * - GRPO: `input_ids`, `attention_mask` int64 [B, T]; `old_logp`, `ref_logp`, `response_mask` float32 [B, T−1]
 *   (`response_mask[b][t]` = 1 when token t+1 is a generated response token); `advantages` float32 [B].
 * - Pairwise: `pos_ids`, `pos_mask`, `neg_ids`, `neg_mask` int64 [N, T]; `pair_mask` float32 [N].
 * - BCE: `input_ids`, `attention_mask` int64 [N, T]; `labels`, `label_mask` float32 [N].
 * - Cooper with an anchor: either of the last two, plus an optional `loss_weight` float32 [1].
 */
import { CoopError } from "../shared/errors.ts";

import { op, type Sym } from "../engine/graph/mod.ts";
import type { DecoderConfig } from "../engine/io/mod.ts";
import { Decoder } from "../engine/models/decoder.ts";
import { rewardOf, tokenLogprobsOf } from "../engine/score/mod.ts";
import type { LossFn, LossOutputs } from "../engine/train/mod.ts";
import type { GrpoLossOptions } from "./grpo.ts";
import { bceLossGraph, grpoLossGraph, pairwiseLossGraph, tokenMeanGraph } from "./losses.ts";

/** Raised when a learner's batch lacks a tensor the loss needs. */
export class LossBatchError extends CoopError {
  override name = "LossBatchError";
}

function need(batch: Record<string, Sym>, what: string, names: readonly string[]): Sym[] {
  const missing = names.filter((n) => batch[n] === undefined);
  if (missing.length > 0) {
    throw new LossBatchError(
      `Cannot build the ${what} loss: the batch has no ${missing.map((n) => `"${n}"`).join(", ")}`,
    );
  }
  return names.map((n) => batch[n]!);
}

function decoder(config: DecoderConfig, params: Record<string, Sym>): Decoder {
  return new Decoder(config, new Map(Object.entries(params)));
}

/** The policy learner's GRPO loss; metrics: policy_loss, kl, clip_fraction, clip_fraction_lower, approx_kl. */
export function grpoTrainingLoss(config: DecoderConfig, options: GrpoLossOptions = {}): LossFn {
  return (_g, params, batch) => {
    const [ids, mask, old, ref, responseMask, advantages] = need(batch, "GRPO", [
      "input_ids",
      "attention_mask",
      "old_logp",
      "ref_logp",
      "response_mask",
      "advantages",
    ]) as [Sym, Sym, Sym, Sym, Sym, Sym];
    const logProbs = tokenLogprobsOf(decoder(config, params), ids, mask);
    const out = grpoLossGraph(
      { logProbs, oldLogProbs: old, refLogProbs: ref, advantages, mask: responseMask },
      options,
    );
    return {
      loss: out.loss,
      metrics: {
        policy_loss: out.policyLoss,
        kl: out.kl,
        clip_fraction: out.clipFraction,
        clip_fraction_lower: out.clipFractionLower,
        approx_kl: out.approxKl,
      },
    };
  };
}

// Positives and negatives go through the RM as one [2N, T] batch: one forward pass instead of two.
function pairScores(config: DecoderConfig, params: Record<string, Sym>, batch: Record<string, Sym>) {
  const [posIds, posMask, negIds, negMask, pairMask] = need(batch, "pairwise", [
    "pos_ids",
    "pos_mask",
    "neg_ids",
    "neg_mask",
    "pair_mask",
  ]) as [Sym, Sym, Sym, Sym, Sym];
  const n = posIds.shape[0]!;
  const scores = rewardOf(
    decoder(config, params),
    op.concat([posIds, negIds], 0),
    op.concat([posMask, negMask], 0),
  );
  const pos = op.slice(scores, { starts: [0], ends: [n], axes: [0] });
  const neg = op.slice(scores, { starts: [n], ends: [2 * n], axes: [0] });
  return { pos, neg, pairMask };
}

/** The reward learner's Cooper update: mean(−log σ(s+ − s−)) over valid pairs; metrics: accuracy, margin. */
export function pairwiseTrainingLoss(config: DecoderConfig): LossFn {
  return (_g, params, batch) => {
    const { pos, neg, pairMask } = pairScores(config, params, batch);
    const margin = op.stopGradient(op.sub(pos, neg));
    return {
      loss: pairwiseLossGraph(pos, neg, pairMask),
      metrics: {
        accuracy: tokenMeanGraph(op.cast(op.greater(margin, 0), "float32"), pairMask),
        margin: tokenMeanGraph(margin, pairMask),
      },
    };
  };
}

/**
 * Cooper's RM update with an optional pointwise anchor: a micro-batch of pairs takes the pairwise loss, a micro-batch
 * of labelled rows (the step's rollouts with the verifier's labels) the BCE. Either may carry a float [1]
 * `loss_weight` that scales its loss, so a learner can weigh pair and anchor micro-batches (see
 * `RewardLearner.updatePairs`); without one the loss is exactly {@link pairwiseTrainingLoss}'s or
 * {@link bceTrainingLoss}'s.
 */
export function cooperTrainingLoss(config: DecoderConfig): LossFn {
  const pairwise = pairwiseTrainingLoss(config);
  const bce = bceTrainingLoss(config);
  return (g, params, batch) => {
    const out = (batch.labels === undefined ? pairwise : bce)(g, params, batch) as LossOutputs;
    const weight = batch.loss_weight;
    if (weight === undefined) return out;
    return { ...out, loss: op.mul(out.loss, op.reshape(weight, [])) };
  };
}

/** VerifyRM pretraining: BCE of the RM logit against verifier labels; metrics: accuracy (σ(s) > ½ vs label > ½). */
export function bceTrainingLoss(config: DecoderConfig): LossFn {
  return (_g, params, batch) => {
    const [ids, mask, labels, labelMask] = need(batch, "BCE", ["input_ids", "attention_mask", "labels", "label_mask"]);
    const logits = rewardOf(decoder(config, params), ids!, mask!);
    const predicted = op.greater(op.stopGradient(logits), 0);
    const agrees = op.equal(predicted, op.greater(labels!, 0.5));
    return {
      loss: bceLossGraph(logits, labels!, labelMask),
      metrics: { accuracy: tokenMeanGraph(op.cast(agrees, "float32"), labelMask!) },
    };
  };
}
