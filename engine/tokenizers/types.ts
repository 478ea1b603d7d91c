/** The tokenizer contract shared by the built-in character tokenizer and Hugging Face tokenizers. */
import type { ChatTemplate } from "./chat_template.ts";

/** Options for {@link TextTokenizer.encode}. */
export interface EncodeOptions {
  /**
   * Prepend the BOS token when this tokenizer's convention adds one (it has a `bos_token` and `add_bos_token` or
   * its post-processor adds it); a BOS-less tokenizer (Qwen2.5, Qwen3) ignores it. Default false.
   */
  addBos?: boolean;
  /** Append the EOS token. Default false. */
  addEos?: boolean;
}

/** Options for {@link TextTokenizer.decode}. */
export interface DecodeOptions {
  /** Drop pad/bos/eos (and other special) tokens. Default true. */
  skipSpecial?: boolean;
}

/** Text to token ids and back. */
export interface TextTokenizer {
  /** Size of the id space (embedding rows needed). */
  readonly vocabSize: number;
  /** Id used for padding. */
  readonly padId: number;
  /** Beginning-of-sequence id, or null. */
  readonly bosId: number | null;
  /** End-of-sequence id, or null; generation stops on it. */
  readonly eosId: number | null;
  /** The checkpoint's chat template, when it has one (Hugging Face tokenizers only). */
  readonly chatTemplate?: ChatTemplate | null;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
}
