/** Generation: batched left-padded prompts, prefill + KV-cache decode graphs, seeded sampling. */
export { Generator } from "./generator.ts";
export type { GenerateOptions, Generation, GeneratorOptions } from "./generator.ts";
export { argmax, checkSamplingOptions, sampleToken, SamplingError } from "./sampling.ts";
export type { SampledToken, SamplingOptions } from "./sampling.ts";
