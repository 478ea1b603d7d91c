/**
 * Model shapes of `./coop bench real`: the Qwen2.5-0.5B shape (real Qwen vocabulary size) and smaller Qwen2-shaped
 * models for quick runs, as Hugging Face config.json objects so the PyTorch reference builds the same model.
 */
import { type DecoderConfig, parseDecoderConfig } from "../engine/io/mod.ts";

/** The real Qwen vocabulary (the tokenizer's 151,669 ids; Qwen2.5's embedding pads to 151,936). */
export const QWEN_VOCAB = 151_669;

/** Sizes `--size` accepts. */
export type RealSize = "0.5b" | "mid" | "small";

function qwen2(vocab: number, hidden: number, layers: number, heads: number, kvHeads: number, mlp: number) {
  return {
    model_type: "qwen2",
    architectures: ["Qwen2ForCausalLM"],
    vocab_size: vocab,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    intermediate_size: mlp,
    tie_word_embeddings: true,
    rope_theta: 1_000_000,
    rms_norm_eps: 1e-6,
    max_position_embeddings: 32768,
    bos_token_id: null,
    eos_token_id: 151645,
    pad_token_id: 151643 < vocab ? 151643 : 0,
  };
}

/** HF config.json of each size: 0.5b is Qwen2.5-0.5B's shape; mid is ~100M params; small runs in seconds. */
export const REAL_SHAPES: Record<RealSize, Record<string, unknown>> = {
  "0.5b": qwen2(QWEN_VOCAB, 896, 24, 14, 2, 4864),
  mid: qwen2(32768, 768, 12, 12, 2, 2048),
  small: qwen2(4096, 256, 4, 4, 2, 1024),
};

/** The parsed decoder config of a size. */
export function realConfig(size: RealSize): DecoderConfig {
  return parseDecoderConfig(REAL_SHAPES[size]);
}
