/** Tokenizers: a character-level one for built-in tasks and Hugging Face `tokenizer.json`. */
export type { DecodeOptions, EncodeOptions, TextTokenizer } from "./types.ts";
export { TokenizerError } from "./types.ts";
export { CharTokenizer, PRINTABLE_ASCII } from "./char_tokenizer.ts";
export { HfTokenizer, loadHfTokenizer } from "./hf_tokenizer.ts";
