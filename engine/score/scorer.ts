/**
 * Scoring for learners and reward actors: per-token log-probs of given sequences (policy and reference) and
 * reward-model scores, on a model runtime's current weights. Rows are right-padded to a length bucket.
 */
import { tensor } from "../../shared/tensor.ts";
import { Graph } from "../graph/mod.ts";
import { Decoder } from "../models/decoder.ts";
import { checkTokenIds, ModelInputError, type ModelRuntime, roundUp } from "../models/runtime.ts";
import { rewardOf, tokenLogprobsOf } from "./graphs.ts";

/** Options of {@link Scorer}. */
export interface ScorerOptions {
  /** Sequence lengths are rounded up to multiples of this (default 16). */
  lengthBucket?: number;
}

/** Runs scoring graphs over batches of unpadded token sequences. */
export class Scorer {
  readonly runtime: ModelRuntime;
  readonly #bucket: number;

  constructor(runtime: ModelRuntime, options: ScorerOptions = {}) {
    this.runtime = runtime;
    this.#bucket = options.lengthBucket ?? 16;
  }

  /** Row r gets log p(seq[t+1] | seq[..t]) for t = 0 .. len_r - 2 (length len_r - 1). */
  async tokenLogprobs(sequences: readonly (readonly number[])[]): Promise<number[][]> {
    const { b, t, feeds } = this.#batch(sequences, 2);
    const session = await this.runtime.session(`logprobs:${b}x${t}`, () => {
      const g = new Graph("token_logprobs");
      const model = Decoder.declare(g, this.runtime.config);
      g.output(
        "logprobs",
        tokenLogprobsOf(model, g.input("input_ids", "int64", [b, t]), g.input("attention_mask", "int64", [b, t])),
      );
      return g;
    });
    const data = (await session.run(this.runtime.feeds(feeds))).logprobs!.data as Float32Array;
    return sequences.map((seq, r) => Array.from(data.subarray(r * (t - 1), r * (t - 1) + seq.length - 1)));
  }

  /** Reward-model score of each sequence (read at its last token). */
  async rewards(sequences: readonly (readonly number[])[]): Promise<number[]> {
    if (this.runtime.config.numLabels === null) {
      throw new ModelInputError(
        `Cannot score rewards with "${this.runtime.name}": it has no score head (not a reward model)`,
      );
    }
    const { b, t, feeds } = this.#batch(sequences, 1);
    const session = await this.runtime.session(`rewards:${b}x${t}`, () => {
      const g = new Graph("rewards");
      const model = Decoder.declare(g, this.runtime.config);
      g.output(
        "rewards",
        rewardOf(model, g.input("input_ids", "int64", [b, t]), g.input("attention_mask", "int64", [b, t])),
      );
      return g;
    });
    return Array.from((await session.run(this.runtime.feeds(feeds))).rewards!.data as Float32Array);
  }

  #batch(sequences: readonly (readonly number[])[], minLength: number) {
    if (sequences.length === 0) throw new ModelInputError("Cannot score: no sequences given");
    sequences.forEach((seq, i) => {
      if (seq.length < minLength) {
        throw new ModelInputError(`Cannot score: sequence ${i} has ${seq.length} tokens, needs at least ${minLength}`);
      }
    });
    checkTokenIds(sequences, this.runtime.config.vocabSize, "sequence");
    const b = sequences.length;
    const t = roundUp(Math.max(...sequences.map((s) => s.length)), this.#bucket);
    const pad = this.runtime.config.padTokenId ?? 0;
    const ids = sequences.flatMap((s) => [...s, ...new Array(t - s.length).fill(pad)]);
    const mask = sequences.flatMap((s) => [...s.map(() => 1), ...new Array(t - s.length).fill(0)]);
    return { b, t, feeds: { input_ids: tensor("int64", [b, t], ids), attention_mask: tensor("int64", [b, t], mask) } };
  }
}
