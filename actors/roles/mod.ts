/**
 * The Cooper role actors: rollout (sampling with a versioned policy), reward (RM scores + verifier verdicts),
 * reference (frozen log-probs), the policy and reward learners, the negative synthesizer and its assistant rewriter. Importing this module
 * registers them with the actor registry (`actors/known_actors.ts` does, so every actor host knows them).
 */
export {
  actorBlobs,
  actorSession,
  configOf,
  encodeRmInput,
  encodeWeights,
  fetchWeights,
  loadPromptCodec,
  loadTokenizer,
  publishWeights,
  readGenerationConfig,
  RoleError,
  tinyHfConfig,
  VersionedModel,
} from "./model_spec.ts";
export type { ModelSpec, WeightSource } from "./model_spec.ts";
export { keepEnd, PromptCodec, stopTokensOf } from "./prompts.ts";
export type { PromptOptions } from "./prompts.ts";
export { RolloutActor } from "./rollout.ts";
export type { RolloutPrompt, RolloutRequest, RolloutSample } from "./rollout.ts";
export { RewardActor } from "./reward.ts";
export type { ScoreItem, ScoreRequest, ScoreResult } from "./reward.ts";
export { ReferenceActor } from "./reference.ts";
export type { TokenPair } from "./reference.ts";
export { Learner, PolicyLearner, RewardLearner } from "./learners.ts";
export type { OptimSpec, PolicyLearnerSpec, RewardLearnerSpec, SftExample, UpdateReport } from "./learners.ts";
export { NegativeSynthesizer } from "./negatives.ts";
export type { NegativeSynthesizerOptions, RewriterActor } from "./negatives.ts";
export { AssistantRewriter, DEFAULT_REWRITE_PROMPT, rewritePrompt } from "./assistant.ts";
export type { AssistantSpec } from "./assistant.ts";
export { EMBEDDING } from "./learners.ts";
