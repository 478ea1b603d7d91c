/**
 * `NegativeSynthesizer` (actor): turns scored prompt groups into Cooper's verified (positive, negative) pairs. For
 * the built-in tasks it rewrites a correct response with the rule rewriter of `rl/negatives.ts`; the verifier
 * filter of `rl/pairs.ts` (keep a negative only when its final answer differs from the reference) applies to every
 * rewriter.
 *
 * Real data: the paper prompts an assistant LLM with the problem and the correct response. That plugs in here as
 * a {@link RewriterActor}: any actor with a `rewrite(input, seed)` method, named in `assistant` — Coop's own is
 * the `AssistantRewriter` (`assistant.ts`, run config `negatives.rewriter: "assistant"`). There is no silent
 * fallback to the rule rewriter: rejected candidates and failed calls are counted in the pair counts.
 */
import { z } from "zod";
import {
  buildPairs,
  type NegativeCandidate,
  type NegativeInput,
  type NegativeSource,
  type NegativeSynthesizer as Rewriter,
  type PairBatch,
  type PromptGroup,
  type RepairMode,
  RuleNegativeSynthesizer,
} from "../../rl/mod.ts";
import { actorContext, type ActorHandle, registerActor } from "../core/mod.ts";

/** The extension point for real data: an in-cluster assistant model that rewrites a correct response. */
export interface RewriterActor {
  /** Plausible wrong rewrites of `input.response`, best first, sampled with `seed` (the verifier filter runs afterwards). */
  rewrite(input: NegativeInput, seed: number): NegativeCandidate[] | Promise<NegativeCandidate[]>;
}

/** Options of the {@link NegativeSynthesizer} actor. */
export interface NegativeSynthesizerOptions {
  /** Name of an actor implementing {@link RewriterActor}; default: the rule rewriter. */
  assistant?: string;
}

const GROUPS = z.array(z.object({
  question: z.string(),
  reference: z.string(),
  responses: z.array(z.string()),
  verdicts: z.array(z.enum(["correct", "incorrect", "unparseable"])).optional(),
}));

/** How many pairs a group gives (see `BuildPairsOptions`). */
export interface PairOptions {
  positivesPerGroup?: number;
  negativesPerPositive?: number;
  negatives?: NegativeSource;
  repairs?: RepairMode;
}

const PAIR_OPTIONS = z.object({
  positivesPerGroup: z.number().int().positive().optional(),
  negativesPerPositive: z.number().int().positive().optional(),
  negatives: z.enum(["rewrite", "policy", "both"]).optional(),
  repairs: z.enum(["none", "unpaired", "all"]).optional(),
});

/** Builds verified Cooper pairs with the rule rewriter or an assistant actor. */
export class NegativeSynthesizer {
  readonly #assistant: string | undefined;
  #rewriter: Rewriter | undefined;

  constructor(options: NegativeSynthesizerOptions = {}) {
    this.#assistant = options.assistant;
  }

  /** Pairs for the groups (masked groups and failing rewriters are counted, never an error). */
  async pairs(groups: PromptGroup[], seed: number, options: PairOptions = {}): Promise<PairBatch> {
    return await buildPairs(groups, { ...options, synthesizer: await this.#synthesizer(), seed });
  }

  async #synthesizer(): Promise<Rewriter> {
    if (this.#rewriter !== undefined) return this.#rewriter;
    if (this.#assistant === undefined) return this.#rewriter = new RuleNegativeSynthesizer();
    const handle: ActorHandle<RewriterActor> = await actorContext().cluster.getActor(this.#assistant);
    // The seed comes from the pair builder's seeded rng, so a retried step asks for the same rewrites.
    return this.#rewriter = { candidates: (input, rng) => handle.rewrite(input, rng.int(0, 2 ** 31 - 1)) };
  }
}
registerActor(NegativeSynthesizer, {
  methods: {
    pairs: {
      idempotent: true,
      args: z.tuple([GROUPS, z.number().int()]).or(z.tuple([GROUPS, z.number().int(), PAIR_OPTIONS])),
    },
  },
});
