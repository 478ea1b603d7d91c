/**
 * `NegativeSynthesizer` (actor): turns scored prompt groups into Cooper's verified (positive, negative) pairs. For
 * the built-in tasks it rewrites a correct response with the rule rewriter of `rl/negatives.ts`; the verifier
 * filter of `rl/pairs.ts` (keep a negative only when its final answer differs from the reference) applies to every
 * rewriter.
 *
 * Real data: the paper prompts an assistant LLM with the problem and the correct response. That plugs in here as
 * an {@link AssistantRewriter} (any actor with `rewrite(input)`), wrapped as an `rl` `NegativeSynthesizer`; Coop
 * ships no assistant model, so the rule rewriter is the only built-in one.
 */
import { z } from "zod";
import {
  buildPairs,
  type NegativeCandidate,
  type NegativeInput,
  type PairBatch,
  type PromptGroup,
  RuleNegativeSynthesizer,
} from "../../rl/mod.ts";
import { registerActor } from "../registry.ts";

/** The extension point for real data: an in-cluster assistant model that rewrites a correct response. */
export interface AssistantRewriter {
  /** Plausible wrong rewrites of `input.response`, best first (the verifier filter runs afterwards). */
  rewrite(input: NegativeInput): Promise<NegativeCandidate[]>;
}

const GROUPS = z.array(z.object({
  question: z.string(),
  reference: z.string(),
  responses: z.array(z.string()),
  verdicts: z.array(z.enum(["correct", "incorrect", "unparseable"])).optional(),
}));

/** Builds verified Cooper pairs with the rule rewriter. */
export class NegativeSynthesizer {
  readonly #rewriter = new RuleNegativeSynthesizer();

  /** Pairs for the groups (masked groups are counted, never an error). */
  async pairs(groups: PromptGroup[], seed: number): Promise<PairBatch> {
    return await buildPairs(groups, { synthesizer: this.#rewriter, seed });
  }
}
registerActor(NegativeSynthesizer, {
  methods: { pairs: { idempotent: true, args: z.tuple([GROUPS, z.number().int()]) } },
});
