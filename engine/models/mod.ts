/** Hugging Face-compatible Llama/Qwen2 decoders: graph construction, parameters and checkpoints, inference runtime. */
export { cacheMask, causalMask, declareParams, Decoder, inverseFrequencies, MASK_VALUE } from "./decoder.ts";
export type { DecoderInputs, DecoderOutputs, KvTensors, ParamSyms } from "./decoder.ts";
export {
  CheckpointError,
  checkWeights,
  initWeights,
  loadWeights,
  parameterCount,
  parameterSpecs,
  saveModel,
} from "./params.ts";
export type { ParamSpec, Weights } from "./params.ts";
export {
  BucketedRunner,
  checkRows,
  checkTokenIds,
  ModelInputError,
  ModelRuntime,
  padRows,
  positionsOf,
  roundUp,
} from "./runtime.ts";
export type { CheckRowsOptions, LengthBucketOptions, ModelRuntimeOptions } from "./runtime.ts";
