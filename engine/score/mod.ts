/** Scoring: per-token log-probs and reward scores, as graph pieces for learners and as a batch runner. */
export {
  causalLmLoss,
  hiddenOf,
  lmTrainingLoss,
  pairMask,
  pairwiseLoss,
  positionsFromMask,
  rewardOf,
  tokenLogprobsOf,
} from "./graphs.ts";
export { Scorer, type ScorerOptions } from "./scorer.ts";
