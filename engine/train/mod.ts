/** Compiled training steps: loss and gradients in one onnxruntime graph per batch shape, AdamW in place. */
export {
  bucketLength,
  type LossFn,
  type LossOutputs,
  type StepGraphKind,
  type StepOptions,
  type StepReport,
  Trainer,
  TrainerError,
  type TrainerOptions,
  type UpdateMode,
} from "./trainer.ts";
