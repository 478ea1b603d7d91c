/** Reverse-mode autodiff: the gradient rules table, the backward walker and finite-difference checking. */
export { gradients, type GradientsOptions, MissingGradRuleError, sumToShape } from "./backward.ts";
export { type GradRule, type RuleContext, RULES } from "./rules.ts";
export { checkGrads, type CheckGradsOptions, type CheckGradsReport, randomTensor } from "./check_grads.ts";
