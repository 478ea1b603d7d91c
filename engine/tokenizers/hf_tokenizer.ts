/**
 * Hugging Face `tokenizer.json` (+ `tokenizer_config.json`, `chat_template.jinja`) through
 * `@huggingface/tokenizers`, the pure-JS port of the Rust crate, so real checkpoints (Qwen2.5, Qwen3, Llama)
 * tokenize exactly as in transformers.
 */
import { Tokenizer } from "@huggingface/tokenizers";
import { ChatTemplate, chatTemplateSource } from "./chat_template.ts";
import { TokenizerError } from "./errors.ts";
import type { DecodeOptions, EncodeOptions, TextTokenizer } from "./types.ts";

type Json = Record<string, unknown>;

function tokenContent(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object" && typeof (value as Json).content === "string") {
    return (value as Json).content as string;
  }
  return null;
}

/** A Hugging Face tokenizer behind the {@link TextTokenizer} contract. */
export class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly padId: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  /** Whether `encode(text, {addBos: true})` prepends BOS: the tokenizer has one and its convention adds it. */
  readonly addsBos: boolean;
  readonly chatTemplate: ChatTemplate | null;
  readonly #tokenizer: Tokenizer;

  /** `chatTemplate`: the text of a `chat_template.jinja`, which wins over `tokenizer_config.json`'s. */
  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = {}, options: { chatTemplate?: string } = {}) {
    try {
      this.#tokenizer = new Tokenizer(tokenizerJson as object, (tokenizerConfig ?? {}) as object);
    } catch (error) {
      throw new TokenizerError(`Cannot load tokenizer.json: ${(error as Error).message}`);
    }
    const config = (tokenizerConfig ?? {}) as Json;
    const idOf = (key: string): number | null => {
      const content = tokenContent(config[key]);
      if (content === null) return null;
      const id = this.#tokenizer.token_to_id(content);
      if (id === undefined) {
        throw new TokenizerError(`Cannot load tokenizer: ${key} ${JSON.stringify(content)} is not in the vocabulary`);
      }
      return id;
    };
    this.bosId = idOf("bos_token");
    this.eosId = idOf("eos_token");
    this.padId = idOf("pad_token") ?? this.eosId ?? 0;
    // transformers: `add_bos_token` when the config says; otherwise whatever the post-processor does (Llama 3
    // adds <|begin_of_text|> there; Qwen has neither).
    const bosByPostProcessor = this.bosId !== null &&
      this.#tokenizer.encode("", { add_special_tokens: true }).ids[0] === this.bosId;
    this.addsBos = this.bosId !== null &&
      (typeof config.add_bos_token === "boolean" ? config.add_bos_token : bosByPostProcessor);
    const source = chatTemplateSource(config, options.chatTemplate ?? null);
    const specials = Object.fromEntries(
      ["bos_token", "eos_token", "pad_token", "unk_token"].map((key) => [key, tokenContent(config[key])]),
    );
    this.chatTemplate = source === null ? null : new ChatTemplate(source, specials);
    let maxId = -1;
    for (const id of this.#tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
  }

  /** Ids of `text` without the tokenizer's own template; BOS when asked and the tokenizer adds one, EOS when asked. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids = this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
    if (options.addBos && this.addsBos) ids.unshift(this.bosId!);
    if (options.addEos) {
      if (this.eosId === null) throw new TokenizerError("Cannot add EOS: this tokenizer has no eos_token");
      ids.push(this.eosId);
    }
    return ids;
  }

  /** Text of `ids`; special tokens are skipped by default. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    if (ids.length === 0) return "";
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError(`Cannot decode id ${id}: outside the vocabulary of ${this.vocabSize}`);
      }
    }
    return this.#tokenizer.decode([...ids], { skip_special_tokens: options.skipSpecial ?? true });
  }

  /** The id of a token string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#tokenizer.token_to_id(token);
  }
}

/** Loads `<dir>/tokenizer.json` and, when present, `<dir>/tokenizer_config.json` and `<dir>/chat_template.jinja`. */
export async function loadHfTokenizer(dir: string): Promise<HfTokenizer> {
  const read = async (name: string, required: boolean): Promise<string | null> => {
    try {
      return await Deno.readTextFile(`${dir}/${name}`);
    } catch (error) {
      if (!required && error instanceof Deno.errors.NotFound) return null;
      throw new TokenizerError(`Cannot load tokenizer from ${dir}: ${name}: ${(error as Error).message}`);
    }
  };
  const json = async (name: string, required: boolean): Promise<unknown> => {
    const text = await read(name, required);
    try {
      return text === null ? {} : JSON.parse(text);
    } catch (error) {
      throw new TokenizerError(`Cannot load tokenizer from ${dir}: ${name}: ${(error as Error).message}`);
    }
  };
  const chatTemplate = await read("chat_template.jinja", false);
  return new HfTokenizer(
    await json("tokenizer.json", true),
    await json("tokenizer_config.json", false),
    chatTemplate === null ? {} : { chatTemplate },
  );
}
