/**
 * How role actors turn text into token ids for a model, the way the model was trained to read it: policy prompts
 * through the checkpoint's chat template (system prompt, user question, generation prompt) when it has one, else
 * the plain `question\n` format of the tiny char-level models; Cooper's RM input text as one user turn when the RM
 * checkpoint has a template; BOS only where the tokenizer's convention adds one; generation stopping on every EOS
 * the checkpoint names (`generation_config.json`, `config.json`, the tokenizer).
 */
import type { DecoderConfig } from "../../engine/io/mod.ts";
import { type TextTokenizer, TokenizerError } from "../../engine/tokenizers/mod.ts";
import { formatPrompt, promptMessages } from "../../rl/mod.ts";

/** How prompts are built for a model (part of its spec). */
export interface PromptOptions {
  /** Use the checkpoint's chat template when it has one. Default true. */
  chatTemplate?: boolean;
  /** A system message before the question (chat-templated prompts only). */
  systemPrompt?: string;
}

/** Text to ids for one model: its tokenizer, its prompt options and the tokens generation stops on. */
export class PromptCodec {
  readonly tokenizer: TextTokenizer;
  /** Generation stops after any of these (kept in the output). */
  readonly stopTokens: number[];
  readonly #options: PromptOptions;

  constructor(tokenizer: TextTokenizer, options: { prompt?: PromptOptions; stopTokens: number[] }) {
    this.tokenizer = tokenizer;
    this.stopTokens = options.stopTokens;
    this.#options = options.prompt ?? {};
  }

  /** Whether prompts go through the chat template. */
  get chat(): boolean {
    return (this.#options.chatTemplate ?? true) && (this.tokenizer.chatTemplate ?? null) !== null;
  }

  /** Ids of the policy's prompt for `question` (templated with the generation prompt when the model has a template). */
  policyPrompt(question: string): number[] {
    if (!this.chat) return this.tokenizer.encode(formatPrompt(question), { addBos: true });
    const messages = promptMessages(question, { systemPrompt: this.#options.systemPrompt });
    return this.#encodeChat(this.tokenizer.chatTemplate!.render(messages, { addGenerationPrompt: true }));
  }

  /** Ids of an instruction sent to an assistant model (a user turn when it has a template). */
  instruction(text: string): number[] {
    if (!this.chat) return this.tokenizer.encode(text, { addBos: true });
    const messages = [{ role: "user", content: text }];
    return this.#encodeChat(this.tokenizer.chatTemplate!.render(messages, { addGenerationPrompt: true }));
  }

  /** Ids of an RM input text (one user turn when the RM has a template); past `maxLen` the start is cut. */
  rmInput(text: string, maxLen: number): number[] {
    const ids = this.chat
      ? this.#encodeChat(this.tokenizer.chatTemplate!.render([{ role: "user", content: text }]))
      : this.tokenizer.encode(text, { addBos: true });
    return keepEnd(ids, maxLen, this.#headLength(ids));
  }

  // A rendered template carries its own BOS text when the model wants one (Llama 3's `{{ bos_token }}`), so
  // nothing is added; transformers' apply_chat_template(tokenize=True) does the same.
  #encodeChat(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  #headLength(ids: readonly number[]): number {
    return this.tokenizer.bosId !== null && ids[0] === this.tokenizer.bosId ? 1 : 0;
  }
}

/** `ids` cut to its last `maxLen` ids, keeping the first `head` (a BOS) in front: the final answer stays in. */
export function keepEnd(ids: number[], maxLen: number, head = 0): number[] {
  if (ids.length <= maxLen) return ids;
  if (maxLen <= head) throw new TokenizerError(`Cannot fit ${ids.length} tokens into ${maxLen} positions`);
  return [...ids.slice(0, head), ...ids.slice(ids.length - maxLen + head)];
}

/**
 * Every end-of-sequence id the checkpoint names: `generation_config.json`'s `eos_token_id` (Qwen2.5-Instruct lists
 * `<|im_end|>` and `<|endoftext|>` there), `config.json`'s, and the tokenizer's `eos_token`.
 */
export function stopTokensOf(
  config: DecoderConfig,
  tokenizer: TextTokenizer,
  generationConfig: Record<string, unknown> = {},
): number[] {
  const raw = generationConfig.eos_token_id;
  const fromGeneration = (Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw])
    .filter((id): id is number => Number.isInteger(id));
  const all = [...fromGeneration, ...config.eosTokenIds, ...(tokenizer.eosId === null ? [] : [tokenizer.eosId])];
  return [...new Set(all)];
}
