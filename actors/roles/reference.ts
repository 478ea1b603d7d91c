/**
 * `ReferenceActor`: per-token log-probs of responses under the frozen reference policy, for GRPO's k3 KL term. It
 * loads its weights once (the initial policy) and never changes them.
 */
import { z } from "zod";
import { ModelRuntime } from "../../engine/models/mod.ts";
import { Scorer } from "../../engine/score/mod.ts";
import { registerActor } from "../core/mod.ts";
import { actorSession, configOf, initialWeights, type ModelSpec } from "./model_spec.ts";

/** A prompt and its response, as token ids. */
export interface TokenPair {
  promptIds: number[];
  responseIds: number[];
}

const REQUEST = z.tuple([
  z.array(z.object({ promptIds: z.array(z.number().int()).min(1), responseIds: z.array(z.number().int()) })).min(1),
]);

/** Scores responses under the reference policy. */
export class ReferenceActor {
  readonly #spec: ModelSpec;
  #scorer: Promise<Scorer> | undefined;

  constructor(spec: ModelSpec) {
    this.#spec = spec;
  }

  /** log p_ref of each response token, one list per pair (empty for an empty response). */
  async logprobs(pairs: TokenPair[]): Promise<number[][]> {
    this.#scorer ??= (async () => {
      const config = configOf(this.#spec);
      const runtime = new ModelRuntime(config, { name: "reference", session: actorSession(config) });
      runtime.setWeights(await initialWeights(this.#spec, runtime.config));
      return new Scorer(runtime);
    })();
    // A failed load (say, the blob store was briefly unreachable) must not poison every later call.
    this.#scorer.catch(() => this.#scorer = undefined);
    const scorer = await this.#scorer;
    const seqs = pairs.map((p) => [...p.promptIds, ...p.responseIds]);
    const all = await scorer.tokenLogprobs(seqs.map((s) => (s.length < 2 ? [...s, 0] : s)));
    // Row r holds log p(seq[t+1] | seq[..t]); response token j sits at t = P - 1 + j.
    return pairs.map((p, r) => all[r]!.slice(p.promptIds.length - 1, p.promptIds.length - 1 + p.responseIds.length));
  }
}
registerActor(ReferenceActor, { methods: { logprobs: { idempotent: true, args: REQUEST } } });
