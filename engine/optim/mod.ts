/** Optimizers: AdamW compiled into training graphs, and its in-place form over JS buffers. */
export {
  type AdamWOptions,
  type AdamWResult,
  type AdamWScalars,
  type AdamWStepTerms,
  adamwTerms,
  adamwUpdate,
  globalNorm,
  isFinite,
} from "./adamw.ts";
export {
  type AdamWBuffers,
  adamwInPlace,
  type AdamWInPlaceOptions,
  type AdamWInPlaceStep,
  clipCoefficient,
} from "./adamw_inplace.ts";
export { AdamWPool, AdamWPoolError, type AdamWPoolOptions, type PoolTensor } from "./adamw_pool.ts";
