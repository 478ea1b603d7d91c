/** Checkpoint I/O: safetensors files and Hugging Face config.json. */
export type { SafetensorsFile } from "./safetensors.ts";
export {
  parseSafetensors,
  readSafetensors,
  SafetensorsError,
  serializeSafetensors,
  toFloat32,
  writeSafetensors,
} from "./safetensors.ts";
export type { DecoderConfig, ModelFamily, RopeScaling } from "./config.ts";
export { ModelConfigError, parseDecoderConfig, readDecoderConfig, toHfConfig } from "./config.ts";
export type { CompleteCheckpointOptions, SaveDtype } from "./checkpoint.ts";
export {
  castWeights,
  CheckpointWriteError,
  completeCheckpoint,
  fromFloat32,
  generationConfigOf,
  TOKENIZER_FILE_NAMES,
} from "./checkpoint.ts";
export { layoutBytes } from "./safetensors.ts";
export type { SafetensorsLayout } from "./safetensors.ts";
export { safetensorsLayout } from "./safetensors.ts";
