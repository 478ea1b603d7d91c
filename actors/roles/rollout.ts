/**
 * `RolloutActor`: samples n responses per prompt with the policy version it is told to use. Weights come from the
 * Object Store by version (`<prefix>.v<N>`), so every sample is stamped with the exact policy that produced it and
 * the driver can enforce its staleness bound. Sample ids are the driver's, and the seed is part of the request, so
 * a retried request (the actor died mid-call) produces the same samples again and nothing is counted twice.
 */
import { z } from "zod";
import { Generator } from "../../engine/generate/mod.ts";
import type { TextTokenizer } from "../../engine/tokenizers/mod.ts";
import { actorContext, registerActor } from "../core/mod.ts";
import { type ModelSpec, VersionedModel } from "./model_spec.ts";
import type { PromptCodec } from "./prompts.ts";

/** One prompt to sample for. */
export interface RolloutPrompt {
  /** Sample ids are `<id>.<k>` for k < samples. */
  id: string;
  question: string;
  answer: string;
}

/** A rollout request. */
export interface RolloutRequest {
  /** Policy version to sample with; its weights are read from blob `<blobPrefix>.v<version>`. */
  version: number;
  blobPrefix: string;
  prompts: RolloutPrompt[];
  samples: number;
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  seed: number;
}

/** One sampled response. */
export interface RolloutSample {
  id: string;
  promptId: string;
  question: string;
  answer: string;
  promptIds: number[];
  responseIds: number[];
  /** Behaviour log-probs (temperature-scaled softmax), one per response token. */
  logprobs: number[];
  text: string;
  /** Policy version that produced it. */
  version: number;
  /** Digest of the policy weights this actor loaded for that version (checked on load). */
  policyDigest: string;
}

/** The validated argument list of `rollout` (the rollout actor's and the colocated policy learner's). */
export const ROLLOUT_ARGS = z.tuple([z.object({
  version: z.number().int().nonnegative(),
  blobPrefix: z.string().min(1),
  prompts: z.array(z.object({ id: z.string().min(1), question: z.string(), answer: z.string() })).min(1),
  samples: z.number().int().positive(),
  maxNewTokens: z.number().int().positive(),
  temperature: z.number().nonnegative(),
  seed: z.number().int(),
})]);

/** Samples responses with a versioned policy. */
export class RolloutActor {
  readonly #model: VersionedModel;
  #generator: Generator | undefined;
  #tokens = 0;

  constructor(spec: ModelSpec) {
    this.#model = new VersionedModel(spec, "rollout");
  }

  /** Samples `samples` responses for each prompt with policy `version`. */
  async rollout(request: RolloutRequest): Promise<RolloutSample[]> {
    const { runtime, tokenizer, codec } = await this.#model.at(request.blobPrefix, request.version);
    this.#generator ??= new Generator(runtime);
    const out = await sampleRollouts(this.#generator, { tokenizer, codec }, request, this.#model.digest);
    for (const sample of out) this.#tokens += sample.responseIds.length;
    return out;
  }

  /** Loaded version, tokens generated so far and where this actor runs. */
  info(): { version: number; tokens: number; pid: number; restarts: number } {
    return { version: this.#model.version, tokens: this.#tokens, pid: Deno.pid, restarts: actorContext().restarts };
  }
}
registerActor(RolloutActor, {
  methods: { rollout: { idempotent: true, args: ROLLOUT_ARGS }, info: { idempotent: true } },
});

/**
 * Samples a rollout request with `generator` (whatever weights its runtime holds): the one code path of the rollout
 * actor and of the colocated rollout in the policy learner, so both give the same samples for the same seed and
 * weights. Samples are stamped with the request's version and `digest` (the weights' digest, "" when unknown).
 */
export async function sampleRollouts(
  generator: Generator,
  model: { tokenizer: TextTokenizer; codec: PromptCodec },
  request: RolloutRequest,
  digest: string,
): Promise<RolloutSample[]> {
  const { tokenizer, codec } = model;
  const prompts = request.prompts.map((p) => codec.policyPrompt(p.question));
  const rows = prompts.flatMap((ids) => Array.from({ length: request.samples }, () => ids));
  const generation = await generator.generate(rows, {
    maxNewTokens: request.maxNewTokens,
    temperature: request.temperature,
    seed: request.seed,
    stopTokens: codec.stopTokens,
  });
  return rows.map((promptIds, r) => {
    const prompt = request.prompts[Math.floor(r / request.samples)]!;
    const responseIds = generation.tokens[r]!;
    return {
      id: `${prompt.id}.${r % request.samples}`,
      promptId: prompt.id,
      question: prompt.question,
      answer: prompt.answer,
      promptIds: [...promptIds],
      responseIds,
      logprobs: generation.logprobs[r]!,
      text: tokenizer.decode(responseIds),
      version: request.version,
      policyDigest: digest,
    };
  });
}
