/**
 * Graph-level scoring pieces learners build losses from: per-token log-probs of given sequences, reward-model
 * scores, the causal-LM loss and the Bradley-Terry pairwise loss. Positions come from the mask inside the graph
 * (cumsum - 1, clamped at 0), so left- and right-padded batches both work without a position input.
 */
import { nn, op, type Sym } from "../graph/mod.ts";
import type { DecoderConfig } from "../io/mod.ts";
import { causalMask, Decoder, ModelInputError } from "../models/mod.ts";
import type { LossFn } from "../train/mod.ts";

/** RoPE positions cumsum(mask) - 1 clamped at 0, from an int64 [B, T] attention mask. */
export function positionsFromMask(attentionMask: Sym): Sym {
  return op.max(op.sub(op.cumSum(attentionMask, 1), 1), 0);
}

/** Hidden states [B, T, H] of a padded batch (int64 ids and mask, [B, T]). */
export function hiddenOf(model: Decoder, inputIds: Sym, attentionMask: Sym): Sym {
  return model.hidden({
    inputIds,
    positionIds: positionsFromMask(attentionMask),
    allowed: causalMask(attentionMask),
  }).hidden;
}

/** log p(ids[:, t+1] | ids[:, ..t]) for t < T-1: float32 [B, T-1] (entries at pads are meaningless; mask them). */
export function tokenLogprobsOf(model: Decoder, inputIds: Sym, attentionMask: Sym): Sym {
  const t = inputIds.shape[1]!;
  // The last position predicts nothing: slicing the hidden states rather than the logits skips a logits-sized copy
  // (and its Pad in the backward pass).
  const hidden = op.slice(hiddenOf(model, inputIds, attentionMask), { starts: [0], ends: [t - 1], axes: [1] });
  const heads = model.logits(hidden);
  return nn.tokenLogProbs(heads, op.slice(inputIds, { starts: [1], ends: [t], axes: [1] }));
}

/** float32 [B, T-1] mask of next-token pairs whose both tokens are real. */
export function pairMask(attentionMask: Sym): Sym {
  const t = attentionMask.shape[1]!;
  const m = op.cast(attentionMask, "float32");
  return op.mul(
    op.slice(m, { starts: [1], ends: [t], axes: [1] }),
    op.slice(m, { starts: [0], ends: [t - 1], axes: [1] }),
  );
}

/** Mean next-token cross-entropy over pairs where both tokens are real (the HF fixtures' `loss`). */
export function causalLmLoss(model: Decoder, inputIds: Sym, attentionMask: Sym): Sym {
  return nn.maskedMean(op.neg(tokenLogprobsOf(model, inputIds, attentionMask)), pairMask(attentionMask));
}

/** Reward-model scores [B] (first score-head output at each row's last real token). */
export function rewardOf(model: Decoder, inputIds: Sym, attentionMask: Sym): Sym {
  const scores = model.scores(hiddenOf(model, inputIds, attentionMask), attentionMask);
  const b = inputIds.shape[0]!;
  return op.reshape(op.slice(scores, { starts: [0], ends: [1], axes: [1] }), [b]);
}

/**
 * Bradley-Terry loss mean(-log sigmoid(chosen - rejected)) over same-shaped score tensors. -log sigmoid(d) is taken
 * as -log_softmax([d, 0])[0]: stable for any margin, with the exact gradient at d = 0 (a relu/abs softplus has a
 * kink there, which is exactly where a fresh reward model starts).
 */
export function pairwiseLoss(chosen: Sym, rejected: Sym): Sym {
  const d = nn.unsqueeze(op.sub(chosen, rejected), -1);
  const zero = op.expand(d.graph.scalar(0, d.dtype), d.shape);
  const lp = op.logSoftmax(op.concat([d, zero], -1), -1);
  const nll = op.neg(op.slice(lp, { starts: [0], ends: [1], axes: [-1] }));
  return op.reduceMean(nll, nll.shape.map((_, i) => i));
}

/**
 * A `Trainer` loss for causal LMs: mean next-token NLL over `loss_mask` (float32 [B, T-1], 1 where the target token
 * counts, e.g. answer tokens only), or over all real pairs when the batch has no `loss_mask`. The batch holds int64
 * `input_ids` and `attention_mask` [B, T].
 */
export function lmTrainingLoss(config: DecoderConfig): LossFn {
  return (_g, params, batch) => {
    const ids = batch.input_ids;
    const mask = batch.attention_mask;
    if (ids === undefined || mask === undefined) {
      throw new ModelInputError("Cannot build the LM loss: the batch needs input_ids and attention_mask");
    }
    const model = new Decoder(config, new Map(Object.entries(params)));
    const nll = op.neg(tokenLogprobsOf(model, ids, mask));
    return nn.maskedMean(nll, batch.loss_mask ?? pairMask(mask));
  };
}
