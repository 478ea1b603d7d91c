/**
 * The Cooper algorithm as pure functions: answer verifier, tasks and datasets, GRPO advantages and loss, KL
 * estimator, Cooper pair building and RM losses, run configs and sample accounting. No I/O beyond reading
 * dataset/config files; the role actors and the run driver build on these.
 */
export { answersMatch, cleanLatex, extractAnswer, normalizeAnswer, verify } from "./verify/mod.ts";
export type { AnswerSource, ExtractedAnswer, NormalizedAnswer, Verdict, VerifyResult } from "./verify/mod.ts";
export { divide, equals, formatRational, parseDecimal, rational, toNumber } from "./verify/mod.ts";
export type { Rational } from "./verify/mod.ts";
export {
  applyOp,
  DatasetError,
  describeLoad,
  formatSolution,
  generateTask,
  generateTasks,
  loadJsonlTasks,
  loadTaskFile,
  loadVerlParquet,
  MAX_LEVEL,
  parseJsonlTasks,
  TASK_ALPHABET,
  TaskGenerationError,
} from "./tasks/mod.ts";
export type {
  DatasetFormat,
  GenerateOptions,
  LoadedDataset,
  MathTask,
  Op,
  ParseJsonlOptions,
  SkippedLine,
  SolutionStep,
  TaskFileFormat,
} from "./tasks/mod.ts";
export {
  groupAdvantages,
  groupAdvantagesBySize,
  GRPO_DEFAULTS,
  GrpoInputError,
  grpoLoss,
  k3Kl,
  klLoss,
  meanStd,
  ppoClipLoss,
  tokenMean,
} from "./grpo.ts";
export type {
  AdvantageOptions,
  GrpoLossInput,
  GrpoLossOptions,
  GrpoLossResult,
  PolicyLossInput,
  PolicyLossOptions,
  PolicyLossResult,
} from "./grpo.ts";
export { parseSteps, repairToReference, RuleNegativeSynthesizer } from "./negatives.ts";
export type {
  NegativeCandidate,
  NegativeInput,
  NegativeStrategy,
  NegativeSynthesizer,
  ParsedStep,
  RuleNegativeOptions,
} from "./negatives.ts";
export { bceLoss, buildPairs, DEFAULT_RM_LAYOUT, formatRmInput, pairwiseLoss, sigmoid, softplus } from "./pairs.ts";
export type {
  BuildPairsOptions,
  CooperPair,
  NegativeSource,
  PairBatch,
  PairCounts,
  PromptGroup,
  RepairMode,
  RmLayout,
} from "./pairs.ts";
export {
  loadConfig,
  parseConfigText,
  parseJobConfig,
  parseRunConfig,
  RmPretrainConfigSchema,
  RunConfigSchema,
  SftConfigSchema,
} from "./config.ts";
export type {
  DataConfig,
  JobConfig,
  ModelConfig,
  ParseConfigTextOptions,
  RewardMode,
  RmPretrainConfig,
  RunConfig,
  SftConfig,
} from "./config.ts";
export { AttestationError, type AttestationSnapshot, type SampleClaim, WeightAttestations } from "./attestation.ts";
export { AccountingError, accuracyOf, pairwiseAccuracy, rmAgreement, SampleLedger } from "./metrics.ts";
export type { AccountingSnapshot, AccuracySummary, LedgerState, RmAgreement, SampleState } from "./metrics.ts";
export {
  bceLossGraph,
  grpoLossGraph,
  k3KlGraph,
  pairwiseLossGraph,
  ppoClipLossGraph,
  softplusGraph,
  tokenMeanGraph,
} from "./losses.ts";
export type { GrpoLossGraph, GrpoLossSyms, PolicyLossGraph } from "./losses.ts";
export { bceTrainingLoss, grpoTrainingLoss, LossBatchError, pairwiseTrainingLoss } from "./training_losses.ts";
export { computeRewards, flipRewards } from "./rewards.ts";
export type { RewardBatch, ScoredSample } from "./rewards.ts";
export { packGrpoBatch, packLabelledBatch, packPairBatch } from "./batches.ts";
export { BCE_BATCH, GRPO_BATCH, LOSS_WEIGHT, PAIR_BATCH } from "./batch_layout.ts";
export type { GrpoBatch, LabelledBatch, PairwiseBatch } from "./batch_layout.ts";
export type { GrpoSample, PackOptions } from "./batches.ts";
export { BalancedSampler, buildLabelledSet, buildVerificationPairs, formatPrompt, promptMessages } from "./rm_data.ts";
export type { LabelledCompletion, LabelledSetOptions, SampledTask } from "./rm_data.ts";
export { isStale } from "./staleness.ts";
export { HackingMonitor, MonitorError, slope } from "./monitor.ts";
export type { MonitorInput, MonitorOptions, MonitorReading, MonitorState, MonitorTest } from "./monitor.ts";
export { DivergedError, SkipGuard } from "./skips.ts";
export { cooperTrainingLoss } from "./training_losses.ts";
export { exploitReadings, finalAnswer, isLastDigitExploit } from "./exploits.ts";
export type { ExploitReadings } from "./exploits.ts";
