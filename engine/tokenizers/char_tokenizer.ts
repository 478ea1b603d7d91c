/**
 * A character-level tokenizer for built-in tasks (digit reversal, arithmetic, ...): ids 0/1/2 are pad/bos/eos
 * and each character of the alphabet gets one id after them.
 */
import { TokenizerError } from "./errors.ts";
import type { DecodeOptions, EncodeOptions, TextTokenizer } from "./types.ts";

/** Printable ASCII (space through tilde): 95 characters, 98 ids with the specials. */
export const PRINTABLE_ASCII: string = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("");

const SPECIALS = 3;

/** One id per character of an alphabet, after pad (0), bos (1) and eos (2). */
export class CharTokenizer implements TextTokenizer {
  readonly padId = 0;
  readonly bosId = 1;
  readonly eosId = 2;
  readonly alphabet: string;
  readonly #ids = new Map<string, number>();
  readonly #chars: string[];

  constructor(alphabet: string = PRINTABLE_ASCII) {
    this.#chars = [...alphabet];
    if (this.#chars.length === 0) throw new TokenizerError("Cannot build a CharTokenizer: the alphabet is empty");
    this.#chars.forEach((char, i) => {
      if (this.#ids.has(char)) {
        throw new TokenizerError(`Cannot build a CharTokenizer: "${char}" appears twice in the alphabet`);
      }
      this.#ids.set(char, i + SPECIALS);
    });
    this.alphabet = alphabet;
  }

  /** pad, bos, eos plus one id per character. */
  get vocabSize(): number {
    return this.#chars.length + SPECIALS;
  }

  /** Ids of `text`, optionally wrapped in bos/eos; an unknown character is an error naming it. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = options.addBos ? [this.bosId] : [];
    for (const char of text) {
      const id = this.#ids.get(char);
      if (id === undefined) {
        throw new TokenizerError(
          `Cannot encode ${JSON.stringify(text)}: character ${JSON.stringify(char)} is not in the alphabet`,
        );
      }
      ids.push(id);
    }
    if (options.addEos) ids.push(this.eosId);
    return ids;
  }

  /** Text of `ids`; specials are dropped unless `skipSpecial: false` (then shown as <pad>, <bos>, <eos>). */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecial ?? true;
    let text = "";
    for (const id of ids) {
      if (id < SPECIALS && id >= 0 && Number.isInteger(id)) {
        if (!skip) text += ["<pad>", "<bos>", "<eos>"][id];
        continue;
      }
      const char = this.#chars[id - SPECIALS];
      if (char === undefined) {
        throw new TokenizerError(`Cannot decode id ${id}: outside the vocabulary of ${this.vocabSize}`);
      }
      text += char;
    }
    return text;
  }
}
