/**
 * Coop's training engine: a graph builder whose ops map onto ONNX, reverse-mode autodiff over it, AdamW compiled into
 * the training graph, and onnxruntime sessions to run it. Models, checkpoints, tokenizers, generation and scoring
 * are built on top (their folders' mod.ts, re-exported here as namespaces).
 */
export {
  type Attr,
  broadcastShapes,
  fmtShape,
  Graph,
  GraphBuildError,
  GraphShapeError,
  isFloat,
  nn,
  type Node,
  op,
  OPSET,
  type Shape,
  Sym,
  tensorOf,
  toOnnx,
  type ToOnnxOptions,
} from "./graph/mod.ts";
export {
  checkGrads,
  type CheckGradsOptions,
  type CheckGradsReport,
  gradients,
  type GradRule,
  MissingGradRuleError,
  randomTensor,
  RULES,
} from "./autodiff/mod.ts";
export {
  createSession,
  type ExecutionProvider,
  type Feed,
  fromOrt,
  Session,
  SessionError,
  type SessionOptions,
  toOrt,
} from "./session/mod.ts";
export { type AdamWOptions, adamwTerms, adamwUpdate, globalNorm } from "./optim/mod.ts";
export {
  bucketLength,
  type LossFn,
  type LossOutputs,
  type StepOptions,
  type StepReport,
  Trainer,
  TrainerError,
  type TrainerOptions,
} from "./train/mod.ts";
export * as io from "./io/mod.ts";
export * as models from "./models/mod.ts";
export * as generate from "./generate/mod.ts";
export * as tokenizers from "./tokenizers/mod.ts";
export * as score from "./score/mod.ts";
export * as parity from "./parity/mod.ts";
