/**
 * `RewardActor`: the reward model's score σ-logit for (question, reference answer, completion) and the rule
 * verifier's verdict for each response. The RM is read by version from the Object Store (`<prefix>.v<N>`), like the
 * policy, so a cooper run can update it while the pipeline keeps scoring with a known version.
 */
import { z } from "zod";
import { ModelRuntime } from "../../engine/models/mod.ts";
import { Scorer } from "../../engine/score/mod.ts";
import type { TextTokenizer } from "../../engine/tokenizers/mod.ts";
import { formatRmInput } from "../../rl/pairs.ts";
import { type Verdict, verify } from "../../rl/verifier.ts";
import { registerActor } from "../registry.ts";
import { actorBlobs, actorThreads, configOf, fetchWeights, loadTokenizer, type ModelSpec } from "./model_spec.ts";

/** One response to score. */
export interface ScoreItem {
  question: string;
  reference: string;
  response: string;
}

/** A scoring request; without `rm` only verdicts are computed. */
export interface ScoreRequest {
  items: ScoreItem[];
  rm?: { blobPrefix: string; version: number };
}

/** Verdicts and RM logits (NaN-free only when the RM is; the driver treats non-finite as invalid). */
export interface ScoreResult {
  verdicts: Verdict[];
  /** RM logits, empty without `rm`. */
  scores: number[];
}

const REQUEST = z.tuple([z.object({
  items: z.array(z.object({ question: z.string(), reference: z.string(), response: z.string() })).min(1),
  rm: z.object({ blobPrefix: z.string().min(1), version: z.number().int().nonnegative() }).optional(),
})]);

/** Scores responses with the RM and the rule verifier. */
export class RewardActor {
  readonly #spec: ModelSpec;
  #runtime: ModelRuntime | undefined;
  #tokenizer: TextTokenizer | undefined;
  #version = -1;

  constructor(spec: ModelSpec) {
    this.#spec = spec;
  }

  /** Verdicts for every item, and RM scores when `rm` is given. */
  async score(request: ScoreRequest): Promise<ScoreResult> {
    const verdicts = request.items.map((item) => verify(item.response, item.reference).verdict);
    if (request.rm === undefined) return { verdicts, scores: [] };
    const scorer = await this.#load(request.rm);
    const maxLen = this.#runtime!.config.maxPositionEmbeddings;
    const seqs = request.items.map((item) => {
      const ids = this.#tokenizer!.encode(formatRmInput(item.question, item.reference, item.response), {
        addBos: true,
      });
      // Over-long inputs keep their end: the completion and its final answer are what the RM must see.
      return ids.length > maxLen ? [ids[0]!, ...ids.slice(ids.length - maxLen + 1)] : ids;
    });
    return { verdicts, scores: await scorer.rewards(seqs) };
  }

  async #load(rm: { blobPrefix: string; version: number }): Promise<Scorer> {
    if (this.#runtime === undefined) {
      this.#tokenizer = await loadTokenizer(this.#spec.tokenizer);
      this.#runtime = new ModelRuntime(configOf(this.#spec), {
        name: "reward",
        session: { intraOpThreads: actorThreads() },
      });
    }
    if (this.#version !== rm.version) {
      const name = `${rm.blobPrefix}.v${rm.version}`;
      this.#runtime.setWeights(await fetchWeights(await actorBlobs(), name, this.#runtime.config, rm.version));
      this.#version = rm.version;
    }
    return new Scorer(this.#runtime);
  }
}
registerActor(RewardActor, { methods: { score: { idempotent: true, args: REQUEST } } });
