/**
 * `NegativeSynthesizer` (actor): turns scored prompt groups into Cooper's verified (positive, negative) pairs. For
 * the built-in tasks it rewrites a correct response with the rule rewriter of `rl/negatives.ts`; the verifier
 * filter of `rl/pairs.ts` (keep a negative only when its final answer differs from the reference) applies to every
 * rewriter.
 *
 * Real data: the paper prompts an assistant LLM with the problem and the correct response. That plugs in here as
 * an {@link AssistantRewriter}: any actor with a `rewrite(input)` method, named in `assistant`. Coop ships no
 * assistant model, so the rule rewriter is the only built-in one.
 */
import { z } from "zod";
import {
  buildPairs,
  type NegativeCandidate,
  type NegativeInput,
  type NegativeSynthesizer as Rewriter,
  type PairBatch,
  type PromptGroup,
  RuleNegativeSynthesizer,
} from "../../rl/mod.ts";
import { actorContext } from "../context.ts";
import type { ActorHandle } from "../handle.ts";
import { registerActor } from "../registry.ts";

/** The extension point for real data: an in-cluster assistant model that rewrites a correct response. */
export interface AssistantRewriter {
  /** Plausible wrong rewrites of `input.response`, best first (the verifier filter runs afterwards). */
  rewrite(input: NegativeInput): NegativeCandidate[] | Promise<NegativeCandidate[]>;
}

/** Options of the {@link NegativeSynthesizer} actor. */
export interface NegativeSynthesizerOptions {
  /** Name of an actor implementing {@link AssistantRewriter}; default: the rule rewriter. */
  assistant?: string;
}

const GROUPS = z.array(z.object({
  question: z.string(),
  reference: z.string(),
  responses: z.array(z.string()),
  verdicts: z.array(z.enum(["correct", "incorrect", "unparseable"])).optional(),
}));

/** Builds verified Cooper pairs with the rule rewriter or an assistant actor. */
export class NegativeSynthesizer {
  readonly #assistant: string | undefined;
  #rewriter: Rewriter | undefined;

  constructor(options: NegativeSynthesizerOptions = {}) {
    this.#assistant = options.assistant;
  }

  /** Pairs for the groups (masked groups and failing rewriters are counted, never an error). */
  async pairs(groups: PromptGroup[], seed: number): Promise<PairBatch> {
    return await buildPairs(groups, { synthesizer: await this.#synthesizer(), seed });
  }

  async #synthesizer(): Promise<Rewriter> {
    if (this.#rewriter !== undefined) return this.#rewriter;
    if (this.#assistant === undefined) return this.#rewriter = new RuleNegativeSynthesizer();
    const handle: ActorHandle<AssistantRewriter> = await actorContext().cluster.getActor(this.#assistant);
    return this.#rewriter = { candidates: (input) => handle.rewrite(input) };
  }
}
registerActor(NegativeSynthesizer, {
  methods: { pairs: { idempotent: true, args: z.tuple([GROUPS, z.number().int()]) } },
});
