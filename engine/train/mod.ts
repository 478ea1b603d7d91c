/** Compiled training steps: loss, gradients and AdamW in one onnxruntime graph per batch shape. */
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
} from "./trainer.ts";
