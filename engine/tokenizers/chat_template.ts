/**
 * Chat templates as transformers renders them (`apply_chat_template`): the checkpoint's Jinja template from
 * `tokenizer_config.json` (`chat_template`, a string or a list of named templates) or `chat_template.jinja`,
 * rendered with `@huggingface/jinja` — 0.5.11 was checked to render the Qwen template byte-identical to
 * transformers. The special tokens (`bos_token`, `eos_token`, ...) are passed as text, as transformers does.
 */
import { Template } from "@huggingface/jinja";
import { TokenizerError } from "./errors.ts";

/** One chat message. */
export interface ChatMessage {
  role: "system" | "user" | "assistant" | string;
  content: string;
}

/** Options for {@link ChatTemplate.render}. */
export interface RenderChatOptions {
  /** End with the assistant turn's opening so the model writes the reply. Default false, as in transformers. */
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. `enable_thinking: false` for Qwen3). */
  variables?: Record<string, unknown>;
}

/** A compiled chat template and the special-token texts it may refer to. */
export class ChatTemplate {
  readonly source: string;
  readonly #template: Template;
  readonly #specials: Record<string, string | null>;

  constructor(source: string, specials: Record<string, string | null> = {}) {
    try {
      this.#template = new Template(source);
    } catch (error) {
      throw new TokenizerError(`Cannot parse the chat template: ${(error as Error).message}`);
    }
    this.source = source;
    this.#specials = specials;
  }

  /** The prompt text of `messages` (special tokens as text; encode it without adding BOS). */
  render(messages: readonly ChatMessage[], options: RenderChatOptions = {}): string {
    try {
      return this.#template.render({
        ...this.#specials,
        ...options.variables,
        messages: messages.map((m) => ({ ...m })),
        add_generation_prompt: options.addGenerationPrompt ?? false,
      });
    } catch (error) {
      // Includes the template's own raise_exception(...) refusals (e.g. a system message where none is allowed).
      throw new TokenizerError(`Cannot render the chat template: ${(error as Error).message}`);
    }
  }
}

/**
 * The chat template of a tokenizer folder's files: `chat_template.jinja` wins (transformers ≥ 4.50 writes it
 * there), then `tokenizer_config.json`'s `chat_template` (a string, or `[{name, template}]` of which "default" is
 * used). Null when there is none.
 */
export function chatTemplateSource(config: Record<string, unknown>, jinjaFile: string | null): string | null {
  if (jinjaFile !== null) return jinjaFile;
  const value = config.chat_template;
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const named = value as { name?: unknown; template?: unknown }[];
    const chosen = named.find((t) => t.name === "default") ?? (named.length === 1 ? named[0] : undefined);
    if (chosen !== undefined && typeof chosen.template === "string") return chosen.template;
    throw new TokenizerError(`Cannot pick a chat template: tokenizer_config.json lists several and none is "default"`);
  }
  return null;
}
