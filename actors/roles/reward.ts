/**
 * `RewardActor`: the reward model's score σ-logit for (question, reference answer, completion) and the rule
 * verifier's verdict for each response. The RM is read by version from the Object Store (`<prefix>.v<N>`), like the
 * policy, so a cooper run can update it while the pipeline keeps scoring with a known version.
 */
import { z } from "zod";
import type { ModelRuntime } from "../../engine/models/mod.ts";
import { Scorer } from "../../engine/score/mod.ts";
import { formatRmInput } from "../../rl/mod.ts";
import { type Verdict, verify } from "../../rl/mod.ts";
import { registerActor } from "../core/mod.ts";
import { type ModelSpec, VersionedModel } from "./model_spec.ts";
import type { PromptCodec } from "./prompts.ts";

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
  /** Digest of the RM weights that scored them (checked on load), with `rm`. */
  rmDigest?: string;
}

/** The validated argument list of `score` (the reward actor's and the colocated reward learner's). */
export const SCORE_ARGS = z.tuple([z.object({
  items: z.array(z.object({ question: z.string(), reference: z.string(), response: z.string() })).min(1),
  rm: z.object({ blobPrefix: z.string().min(1), version: z.number().int().nonnegative() }).optional(),
})]);

/** Scores responses with the RM and the rule verifier. */
export class RewardActor {
  readonly #model: VersionedModel;

  constructor(spec: ModelSpec) {
    this.#model = new VersionedModel(spec, "reward");
  }

  /** Verdicts for every item, and RM scores when `rm` is given. */
  async score(request: ScoreRequest): Promise<ScoreResult> {
    const verdicts = verdictsOf(request.items);
    if (request.rm === undefined) return { verdicts, scores: [] };
    const { runtime, codec } = await this.#model.at(request.rm.blobPrefix, request.rm.version);
    return { verdicts, scores: await rmScores(runtime, codec, request.items), rmDigest: this.#model.digest };
  }
}
registerActor(RewardActor, { methods: { score: { idempotent: true, args: SCORE_ARGS } } });

/** The rule verifier's verdict on each item. */
export function verdictsOf(items: readonly ScoreItem[]): Verdict[] {
  return items.map((item) => verify(item.response, item.reference).verdict);
}

/**
 * RM logits of `items` with whatever weights `runtime` holds: the one scoring path of the reward actor and of the
 * colocated RM scoring in the reward learner.
 */
export async function rmScores(
  runtime: ModelRuntime,
  codec: PromptCodec,
  items: readonly ScoreItem[],
): Promise<number[]> {
  const seqs = items.map((item) =>
    codec.rmInput(formatRmInput(item.question, item.reference, item.response), runtime.config.maxPositionEmbeddings)
  );
  return await new Scorer(runtime).rewards(seqs);
}
