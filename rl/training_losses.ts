/**
 * `Trainer` loss functions for the three learners: GRPO for the policy, the pairwise Cooper update and the
 * VerifyRM BCE for the reward model. They wire a decoder's log-probs/scores (`engine/score`) into the graph losses
 * of `losses.ts`; the batch tensors a learner must feed are named (and laid out) in `batch_layout.ts`.
 */
import { CoopError } from "../shared/mod.ts";

import { op, type Sym } from "../engine/graph/mod.ts";
import type { DecoderConfig } from "../engine/io/mod.ts";
import { Decoder } from "../engine/models/mod.ts";
import { rewardOf, tokenLogprobsOf } from "../engine/score/mod.ts";
import type { LossFn, LossOutputs } from "../engine/train/mod.ts";
import type { GrpoLossOptions } from "./grpo.ts";
import { BCE_BATCH, GRPO_BATCH, LOSS_WEIGHT, PAIR_BATCH } from "./batch_layout.ts";
import { bceLossGraph, grpoLossGraph, pairwiseLossGraph, tokenMeanGraph } from "./losses.ts";

/** Raised when a learner's batch lacks a tensor the loss needs. */
export class LossBatchError extends CoopError {
  override name = "LossBatchError";
}

function need<K extends string>(batch: Record<string, Sym>, what: string, names: readonly K[]): Record<K, Sym> {
  const missing = names.filter((n) => batch[n] === undefined);
  if (missing.length > 0) {
    throw new LossBatchError(
      `Cannot build the ${what} loss: the batch has no ${missing.map((n) => `"${n}"`).join(", ")}`,
    );
  }
  return Object.fromEntries(names.map((n) => [n, batch[n]!])) as Record<K, Sym>;
}

function decoder(config: DecoderConfig, params: Record<string, Sym>): Decoder {
  return new Decoder(config, new Map(Object.entries(params)));
}

/** The policy learner's GRPO loss; metrics: policy_loss, kl, clip_fraction, clip_fraction_lower, approx_kl. */
export function grpoTrainingLoss(config: DecoderConfig, options: GrpoLossOptions = {}): LossFn {
  return (_g, params, batch) => {
    const b = need(batch, "GRPO", GRPO_BATCH);
    const logProbs = tokenLogprobsOf(decoder(config, params), b.input_ids, b.attention_mask);
    const out = grpoLossGraph(
      {
        logProbs,
        oldLogProbs: b.old_logp,
        refLogProbs: b.ref_logp,
        advantages: b.advantages,
        mask: b.response_mask,
      },
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
  const b = need(batch, "pairwise", PAIR_BATCH);
  const n = b.pos_ids.shape[0]!;
  const scores = rewardOf(
    decoder(config, params),
    op.concat([b.pos_ids, b.neg_ids], 0),
    op.concat([b.pos_mask, b.neg_mask], 0),
  );
  const pos = op.slice(scores, { starts: [0], ends: [n], axes: [0] });
  const neg = op.slice(scores, { starts: [n], ends: [2 * n], axes: [0] });
  return { pos, neg, pairMask: b.pair_mask };
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
    const labelled: (typeof BCE_BATCH)[number] = "labels";
    const out = (batch[labelled] === undefined ? pairwise : bce)(g, params, batch) as LossOutputs;
    const weight = batch[LOSS_WEIGHT];
    if (weight === undefined) return out;
    return { ...out, loss: op.mul(out.loss, op.reshape(weight, [])) };
  };
}

/** VerifyRM pretraining: BCE of the RM logit against verifier labels; metrics: accuracy (σ(s) > ½ vs label > ½). */
export function bceTrainingLoss(config: DecoderConfig): LossFn {
  return (_g, params, batch) => {
    const b = need(batch, "BCE", BCE_BATCH);
    const logits = rewardOf(decoder(config, params), b.input_ids, b.attention_mask);
    const predicted = op.greater(op.stopGradient(logits), 0);
    const agrees = op.equal(predicted, op.greater(b.labels, 0.5));
    return {
      loss: bceLossGraph(logits, b.labels, b.label_mask),
      metrics: { accuracy: tokenMeanGraph(op.cast(agrees, "float32"), b.label_mask) },
    };
  };
}
