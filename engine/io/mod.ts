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
