/**
 * The Llama/Qwen2 decoder as a graph: token embedding, `numLayers` pre-norm blocks (RMSNorm, RoPE attention with
 * grouped KV heads, SwiGLU MLP), final RMSNorm, then an LM head (tied or not) or a sequence-classification score
 * head. It follows transformers' `modeling_llama.py` / `modeling_qwen2.py` operation by operation, so outputs match
 * them to float32 rounding; every op is a builder primitive, so gradients come from the autodiff rules.
 */
import { type Graph, GraphBuildError, nn, op, type Sym, tensorOf } from "../graph/mod.ts";
import type { DecoderConfig } from "../io/mod.ts";
import { parameterSpecs } from "./params.ts";

/** Parameter symbols keyed by HF name. */
export type ParamSyms = Map<string, Sym>;

/** transformers fills masked attention scores with float32's lowest value, not -inf: a row with no visible key
 * then softmaxes to uniform weights instead of NaN, and we reproduce that for pad positions' outputs. */
export const MASK_VALUE = -3.4028234663852886e38;

/** Declares every parameter as a float32 graph input named by its HF name (weights are fed at run time). */
export function declareParams(g: Graph, config: DecoderConfig): ParamSyms {
  const params: ParamSyms = new Map();
  for (const spec of parameterSpecs(config)) params.set(spec.name, g.input(spec.name, "float32", spec.shape));
  return params;
}

/** A decoder's config and parameter symbols in one graph; its methods add the model's ops to that graph. */
export class Decoder {
  readonly config: DecoderConfig;
  readonly params: ParamSyms;

  constructor(config: DecoderConfig, params: ParamSyms) {
    this.config = config;
    this.params = params;
  }

  /** A decoder whose parameters are fresh inputs of `g` (see {@link declareParams}). */
  static declare(g: Graph, config: DecoderConfig): Decoder {
    return new Decoder(config, declareParams(g, config));
  }

  /** Embeddings through the final norm. */
  hidden(inputs: DecoderInputs): DecoderOutputs {
    return decoderHidden(this.config, this.params, inputs);
  }

  /** LM-head logits [..., V]. */
  logits(hidden: Sym): Sym {
    return lmHead(this.config, this.params, hidden);
  }

  /** Score-head outputs [B, numLabels] at each row's last real token. */
  scores(hidden: Sym, attentionMask: Sym): Sym {
    return scoreHead(this.params, hidden, attentionMask);
  }
}

function param(params: ParamSyms, name: string): Sym {
  const sym = params.get(name);
  if (sym === undefined) throw new GraphBuildError(`Cannot build the decoder: parameter "${name}" is not declared`);
  return sym;
}

/** Per-layer key/value tensors, each [B, kvHeads, S, headDim]. */
export interface KvTensors {
  keys: Sym[];
  values: Sym[];
}

/** Inputs of {@link decoderHidden}. */
export interface DecoderInputs {
  /** int64 [B, T] token ids. */
  inputIds: Sym;
  /** int64 [B, T] RoPE positions (cumsum(mask) - 1 for left-padded rows). */
  positionIds: Sym;
  /**
   * bool, broadcastable to [B, 1, T, S]: may query t attend to key s. S = T without a cache, the cache length with
   * one. Build it with {@link causalMask} or {@link cacheMask}.
   */
  allowed: Sym;
  /**
   * Keys/values of earlier positions, [B, kvHeads, S, headDim] per layer, for decoding one new token (T must be 1).
   * `allowed` then masks these S slots only; the new token always sees itself. The cache is read, never copied:
   * the outputs' `kv` are just the new token's keys/values [B, kvHeads, 1, headDim], which the caller writes into
   * its cache buffers. Without a cache, keys/values are this call's T positions.
   */
  cache?: KvTensors;
}

/** Hidden states after the final norm, and each layer's keys/values of this call's positions. */
export interface DecoderOutputs {
  hidden: Sym;
  kv: KvTensors;
}

/**
 * RoPE inverse frequencies as torch computes them in float32, 1 / theta^(2i/d), then rescaled like transformers'
 * `_compute_linear_scaling_rope_parameters` / `_compute_llama3_parameters` when the config asks for it.
 */
export function inverseFrequencies(config: DecoderConfig): number[] {
  const d = config.headDim;
  const base = Array.from(
    { length: d / 2 },
    (_, i) => Math.fround(1 / Math.fround(config.ropeTheta ** Math.fround((2 * i) / d))),
  );
  const scaling = config.ropeScaling;
  if (scaling === null) return base;
  if (scaling.type === "linear") return base.map((f) => Math.fround(f / scaling.factor));
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: context } = scaling;
  const lowWavelen = context / lowFreqFactor;
  const highWavelen = context / highFreqFactor;
  return base.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowWavelen) return Math.fround(f / factor);
    if (wavelen < highWavelen) return f;
    const smooth = (context / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return Math.fround((1 - smooth) * f / factor + smooth * f);
  });
}

/** cos and sin tables [B, T, headDim] for the given positions, duplicated over both halves as HF does. */
function rotary(g: Graph, config: DecoderConfig, positionIds: Sym): [Sym, Sym] {
  const invFreq = g.constant(tensorOf("float32", [config.headDim / 2], inverseFrequencies(config)));
  const freqs = op.mul(nn.unsqueeze(op.cast(positionIds, "float32"), -1), invFreq);
  const emb = op.concat([freqs, freqs], -1);
  return [op.cos(emb), op.sin(emb)];
}

/** x * cos + rotate_half(x) * sin, where rotate_half(x) = [-x2, x1] over the last dim. */
function applyRotary(x: Sym, cos: Sym, sin: Sym): Sym {
  const d = x.shape[x.rank - 1]!;
  const x1 = op.slice(x, { starts: [0], ends: [d / 2], axes: [-1] });
  const x2 = op.slice(x, { starts: [d / 2], ends: [d], axes: [-1] });
  return op.add(op.mul(x, cos), op.mul(op.concat([op.neg(x2), x1], -1), sin));
}

/** A bool [T, T] lower-triangular constant combined with a key-padding mask: [B, 1, T, T]. */
export function causalMask(attentionMask: Sym): Sym {
  const g = attentionMask.graph;
  const t = attentionMask.shape[1]!;
  const tri = Array.from({ length: t * t }, (_, i) => (i % t <= Math.floor(i / t) ? 1 : 0));
  const causal = g.constant(tensorOf("bool", [t, t], tri));
  return op.and(causal, cacheMask(attentionMask));
}

/** Key-padding mask [B, 1, 1, S] from an int64 attention mask [B, S] (1 = real token). */
export function cacheMask(attentionMask: Sym): Sym {
  const [b, s] = attentionMask.shape as [number, number];
  return op.reshape(op.cast(attentionMask, "bool"), [b, 1, 1, s]);
}

/** Runs the decoder body: embeddings through the final RMSNorm. */
function decoderHidden(config: DecoderConfig, params: ParamSyms, inputs: DecoderInputs): DecoderOutputs {
  const g = inputs.inputIds.graph;
  const [b, t] = inputs.inputIds.shape as [number, number];
  const { numHeads, numKvHeads, headDim } = config;
  const rep = numHeads / numKvHeads;
  const [cos, sin] = rotary(g, config, inputs.positionIds);
  // q is laid out [B, kvHeads, rep, T, D] so one kv head broadcasts over its `rep` query heads in the matmul
  // instead of being materialised `rep` times (HF's repeat_kv); head h = kv * rep + r in both layouts.
  const qCos = op.reshape(cos, [b, 1, 1, t, headDim]);
  const qSin = op.reshape(sin, [b, 1, 1, t, headDim]);
  const kCos = op.reshape(cos, [b, 1, t, headDim]);
  const kSin = op.reshape(sin, [b, 1, t, headDim]);
  const scale = 1 / Math.sqrt(headDim);
  const allowed = inputs.allowed.rank === 4 ? nn.unsqueeze(inputs.allowed, 1) : inputs.allowed;
  const bias = op.where(allowed, g.scalar(0), g.scalar(MASK_VALUE));
  const kv: KvTensors = { keys: [], values: [] };

  let h = op.gather(param(params, "model.embed_tokens.weight"), inputs.inputIds, 0);
  for (let i = 0; i < config.numLayers; i++) {
    const p = (name: string) => param(params, `model.layers.${i}.${name}`);
    const bias_ = (name: string, on: boolean) => (on ? p(`${name}.bias`) : undefined);
    const x = nn.rmsNorm(h, p("input_layernorm.weight"), config.rmsNormEps);
    const q = nn.linear(x, p("self_attn.q_proj.weight"), bias_("self_attn.q_proj", config.qkvBias));
    const k = nn.linear(x, p("self_attn.k_proj.weight"), bias_("self_attn.k_proj", config.qkvBias));
    const v = nn.linear(x, p("self_attn.v_proj.weight"), bias_("self_attn.v_proj", config.qkvBias));
    const qh = applyRotary(op.transpose(op.reshape(q, [b, t, numKvHeads, rep, headDim]), [0, 2, 3, 1, 4]), qCos, qSin);
    const kh = applyRotary(op.transpose(op.reshape(k, [b, t, numKvHeads, headDim]), [0, 2, 1, 3]), kCos, kSin);
    const vh = op.transpose(op.reshape(v, [b, t, numKvHeads, headDim]), [0, 2, 1, 3]);
    kv.keys.push(kh);
    kv.values.push(vh);
    const ctx = inputs.cache
      ? cachedAttention(qh, {
        key: kh,
        value: vh,
        keys: inputs.cache.keys[i]!,
        values: inputs.cache.values[i]!,
        bias,
        scale,
      })
      : attention(qh, kh, vh, { bias, scale });
    const merged = op.reshape(op.transpose(ctx, [0, 3, 1, 2, 4]), [b, t, numHeads * headDim]);
    h = op.add(h, nn.linear(merged, p("self_attn.o_proj.weight"), bias_("self_attn.o_proj", config.oBias)));
    const y = nn.rmsNorm(h, p("post_attention_layernorm.weight"), config.rmsNormEps);
    const gate = nn.linear(y, p("mlp.gate_proj.weight"), bias_("mlp.gate_proj", config.mlpBias));
    const up = nn.linear(y, p("mlp.up_proj.weight"), bias_("mlp.up_proj", config.mlpBias));
    h = op.add(
      h,
      nn.linear(op.mul(nn.silu(gate), up), p("mlp.down_proj.weight"), bias_("mlp.down_proj", config.mlpBias)),
    );
  }
  return { hidden: nn.rmsNorm(h, param(params, "model.norm.weight"), config.rmsNormEps), kv };
}

/** softmax(q kᵀ · scale + bias) v with q [B, kvH, rep, T, D] and k, v [B, kvH, S, D]. */
function attention(q: Sym, k: Sym, v: Sym, options: { bias: Sym; scale: number }): Sym {
  // The transpose feeds the MatMul directly so onnxruntime fuses it (FusedMatMul transB) instead of copying K.
  const kT = op.transpose(nn.unsqueeze(k, 2), [0, 1, 2, 4, 3]);
  const scores = op.add(op.mul(op.matmul(q, kT), options.scale), options.bias);
  return op.matmul(op.softmax(scores, -1), nn.unsqueeze(v, 2));
}

/**
 * One new token attending over a read-only cache plus itself: the S cached scores and the new token's own score
 * are softmaxed together, then the context is probs[:S] · V_cache + probs[S] · v_new. Writing the new key into
 * the cache inside the graph would copy the whole cache every step (ScatterND: 0.33 ms of a ~3.3 ms small-model
 * step, plus copying every updated cache out of onnxruntime); this way only [B, kvH, 1, D] leaves the graph.
 */
function cachedAttention(
  q: Sym,
  o: { key: Sym; value: Sym; keys: Sym; values: Sym; bias: Sym; scale: number },
): Sym {
  const s = o.keys.shape[2]!;
  const kT = op.transpose(nn.unsqueeze(o.keys, 2), [0, 1, 2, 4, 3]);
  const past = op.add(op.mul(op.matmul(q, kT), o.scale), o.bias);
  const own = op.mul(op.reduceSum(op.mul(q, nn.unsqueeze(o.key, 2)), -1, { keepDims: true }), o.scale);
  const probs = op.softmax(op.concat([past, own], -1), -1);
  const pastProbs = op.slice(probs, { starts: [0], ends: [s], axes: [-1] });
  const ownProb = op.slice(probs, { starts: [s], ends: [s + 1], axes: [-1] });
  return op.add(op.matmul(pastProbs, nn.unsqueeze(o.values, 2)), op.mul(ownProb, nn.unsqueeze(o.value, 2)));
}

/** LM-head logits [..., V] from hidden states (the embedding matrix when tied). */
function lmHead(config: DecoderConfig, params: ParamSyms, hidden: Sym): Sym {
  const name = config.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  return nn.linear(hidden, param(params, name));
}

/**
 * Sequence-classification scores [B, numLabels] read at each row's last real token (the last position whose
 * attention mask is 1), as `Qwen2ForSequenceClassification` pools. Selecting with a one-hot weighted sum keeps the
 * pooling a plain linear op, so its gradient needs no gather rule.
 */
function scoreHead(params: ParamSyms, hidden: Sym, attentionMask: Sym): Sym {
  const g = hidden.graph;
  const [b, t] = attentionMask.shape as [number, number];
  const positions = g.constant(tensorOf("int64", [t], Array.from({ length: t }, (_, i) => i)));
  const last = op.reduceMax(op.mul(attentionMask, positions), -1, { keepDims: true });
  const pick = op.cast(op.equal(positions, last), "float32");
  const pooled = op.reduceSum(op.mul(hidden, op.reshape(pick, [b, t, 1])), 1);
  return nn.linear(pooled, param(params, "score.weight"));
}
