/** Tokenizers: a character-level one for built-in tasks, Hugging Face `tokenizer.json`, chat templates. */
export type { DecodeOptions, EncodeOptions, TextTokenizer } from "./types.ts";
export { TokenizerError } from "./errors.ts";
export { CharTokenizer, PRINTABLE_ASCII } from "./char_tokenizer.ts";
export { HfTokenizer, loadHfTokenizer } from "./hf_tokenizer.ts";
export type { ChatMessage, RenderChatOptions } from "./chat_template.ts";
export { ChatTemplate, chatTemplateSource } from "./chat_template.ts";
