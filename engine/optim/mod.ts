/** Optimizers compiled into training graphs. */
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
