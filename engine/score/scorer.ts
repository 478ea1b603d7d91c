/**
 * Scoring for learners and reward actors: per-token log-probs of given sequences (policy and reference) and
 * reward-model scores, on a model runtime's current weights. Rows are right-padded to a length bucket.
 */
import { tensor } from "../../shared/mod.ts";
import { Graph, type Sym } from "../graph/mod.ts";
import {
  BucketedRunner,
  checkRows,
  Decoder,
  type LengthBucketOptions,
  ModelInputError,
  padRows,
  roundUp,
} from "../models/mod.ts";
import { rewardOf, tokenLogprobsOf } from "./graphs.ts";

/** Options of {@link Scorer}: sequence lengths are rounded up to multiples of `lengthBucket`. */
export type ScorerOptions = LengthBucketOptions;

/** Runs scoring graphs over batches of unpadded token sequences. */
export class Scorer extends BucketedRunner {
  /** Row r gets log p(seq[t+1] | seq[..t]) for t = 0 .. len_r - 2 (length len_r - 1). */
  async tokenLogprobs(sequences: readonly (readonly number[])[]): Promise<number[][]> {
    const { t, data } = await this.#score("logprobs", sequences, 2, tokenLogprobsOf);
    return sequences.map((seq, r) => Array.from(data.subarray(r * (t - 1), r * (t - 1) + seq.length - 1)));
  }

  /** Reward-model score of each sequence (read at its last token). */
  async rewards(sequences: readonly (readonly number[])[]): Promise<number[]> {
    if (this.runtime.config.numLabels === null) {
      throw new ModelInputError(
        `Cannot score rewards with "${this.runtime.name}": it has no score head (not a reward model)`,
      );
    }
    return Array.from((await this.#score("rewards", sequences, 1, rewardOf)).data);
  }

  /** Right-pads the rows to a length bucket and runs the graph whose single output `name` is `head`'s. */
  async #score(
    name: "logprobs" | "rewards",
    sequences: readonly (readonly number[])[],
    minLength: number,
    head: (model: Decoder, ids: Sym, mask: Sym) => Sym,
  ): Promise<{ t: number; data: Float32Array }> {
    const config = this.runtime.config;
    checkRows(sequences, { action: "score", what: "sequence", minLength, vocabSize: config.vocabSize });
    const b = sequences.length;
    const t = roundUp(Math.max(...sequences.map((s) => s.length)), this.bucket);
    const { ids, masks } = padRows(sequences, t, { pad: config.padTokenId ?? 0, side: "right" });
    const session = await this.runtime.session(`${name}:${b}x${t}`, () => {
      const g = new Graph(name);
      const model = Decoder.declare(g, config);
      g.output(name, head(model, g.input("input_ids", "int64", [b, t]), g.input("attention_mask", "int64", [b, t])));
      return g;
    });
    const feeds = {
      input_ids: tensor("int64", [b, t], ids.flat()),
      attention_mask: tensor("int64", [b, t], masks.flat()),
    };
    return { t, data: (await session.run(this.runtime.feeds(feeds)))[name]!.data as Float32Array };
  }
}
