/**
 * `./coop bench engine`: training-step throughput of the compiled step (loss + backward + AdamW in one onnxruntime
 * graph) for the `tiny` and `small` decoders with 1 and 2 threads, its MFU against onnxruntime's own 1024³ float32
 * MatMul measured in the same run, and generation tokens/s with the KV cache next to full recompute.
 * Prints a table and writes bench/out/engine.json with exactly the keys the engine issue specifies.
 */
import * as ort from "onnxruntime-node";
import { Generator } from "../engine/generate/generator.ts";
import { Rng } from "../shared/mod.ts";
import { type DecoderConfig, parseDecoderConfig, toHfConfig } from "../engine/io/mod.ts";
import { initWeights } from "../engine/models/params.ts";
import { ModelRuntime } from "../engine/models/runtime.ts";
import { lmTrainingLoss } from "../engine/score/mod.ts";
import { Trainer } from "../engine/train/mod.ts";
import { Graph, op, toOnnx } from "../engine/graph/mod.ts";
import { createSession, type Session } from "../engine/session/mod.ts";
import { type Tensor, tensor } from "../shared/tensor.ts";
import { BENCH_OUT_DIR, printTable } from "./report.ts";
import { torchJob, torchUnavailable } from "./real.ts";

/** A benchmark model: the decoder config plus its training batch shape. */
interface BenchModel {
  config: DecoderConfig;
  batch: number;
  seq: number;
}

function decoder(vocab: number, hidden: number, layers: number, heads: number, mlp: number): DecoderConfig {
  return parseDecoderConfig({
    model_type: "llama",
    architectures: ["LlamaForCausalLM"],
    vocab_size: vocab,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: heads,
    intermediate_size: mlp,
    tie_word_embeddings: true,
    rope_theta: 10000,
    pad_token_id: 0,
  });
}

/** The two configs. */
export const BENCH_MODELS: Record<"tiny" | "small", BenchModel> = {
  tiny: { config: decoder(64, 128, 2, 4, 512), batch: 64, seq: 48 },
  small: { config: decoder(512, 256, 4, 8, 1024), batch: 16, seq: 128 },
};

/**
 * Matmul FLOPs of one training step: forward projections, attention (QKᵀ and PV over the full T, as computed)
 * and the LM head, times 3 for forward + backward (the embedding gather and elementwise ops are not counted).
 */
export function trainStepFlops(model: BenchModel): number {
  const { hiddenSize: h, numHeads, numKvHeads, headDim, intermediateSize: m, vocabSize: v, numLayers } = model.config;
  const q = numHeads * headDim;
  const kv = numKvHeads * headDim;
  const perLayer = 2 * h * (q + 2 * kv) + 2 * q * h + 2 * 3 * h * m + 2 * 2 * model.seq * q;
  return 3 * model.batch * model.seq * (numLayers * perLayer + 2 * h * v);
}

/** Fastest of `runs` timings in seconds: on a shared machine the minimum is the least-disturbed measurement. */
async function timeIt(runs: number, fn: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    best = Math.min(best, (performance.now() - start) / 1000);
  }
  return best;
}

/**
 * onnxruntime's own float32 1024x1024x1024 MatMul on 2 threads, sampled between training steps so both see the
 * same machine load (it is shared); the fastest sample is the peak MFU is measured against.
 */
class MatmulProbe {
  #session: Session | null = null;
  #feeds: Record<string, Tensor> = {};
  #best = Infinity;
  static readonly N = 1024;

  async sample(): Promise<void> {
    const n = MatmulProbe.N;
    if (this.#session === null) {
      const g = new Graph("matmul");
      g.output("c", op.matmul(g.input("a", "float32", [n, n]), g.input("b", "float32", [n, n])));
      this.#session = await createSession(toOnnx(g), { intraOpThreads: 2 });
      const rng = new Rng(1);
      const random = () => tensor("float32", [n, n], Float32Array.from({ length: n * n }, () => rng.next()));
      this.#feeds = { a: random(), b: random() };
      await this.#session.run(this.#feeds);
    }
    this.#best = Math.min(this.#best, await timeIt(5, () => this.#session!.run(this.#feeds)));
  }

  get gflops(): number {
    return (2 * MatmulProbe.N ** 3) / this.#best / 1e9;
  }

  async release(): Promise<void> {
    await this.#session?.release();
  }
}

function randomBatch(model: BenchModel, rng: Rng) {
  const { batch: b, seq: t } = model;
  const ids = Array.from({ length: b * t }, () => 1 + rng.int(0, model.config.vocabSize - 2));
  return {
    input_ids: tensor("int64", [b, t], ids),
    attention_mask: tensor("int64", [b, t], new Array(b * t).fill(1)),
  };
}

/** Seconds per training step (fastest of `steps`); the probe, when given, samples the MatMul between steps. */
async function trainStepSeconds(
  model: BenchModel,
  threads: number,
  options: { steps: number; probe?: MatmulProbe },
): Promise<number> {
  const trainer = new Trainer({
    loss: lmTrainingLoss(model.config),
    params: Object.fromEntries(initWeights(model.config, { seed: 1 })),
    adamw: { weightDecay: 0.01, maxGradNorm: 1 },
    session: { intraOpThreads: threads },
    name: "bench",
  });
  try {
    const rng = new Rng(2);
    const batches = Array.from({ length: 2 }, () => randomBatch(model, rng));
    for (const batch of batches) await trainer.step(batch, { lr: 1e-3 });
    let best = Infinity;
    for (let i = 0; i < options.steps; i++) {
      best = Math.min(best, await timeIt(1, () => trainer.step(batches[i % 2]!, { lr: 1e-3 })));
      await options.probe?.sample();
    }
    return best;
  } finally {
    await trainer.release();
  }
}

/** Seconds per PyTorch eager training step (fastest of `steps`; the first pays for warm-up). */
async function torchStepSeconds(model: BenchModel, threads: number, steps: number): Promise<number> {
  const out = await torchJob({
    config: toHfConfig(model.config),
    threads,
    train: { batch: model.batch, seq: model.seq, steps, lr: 1e-3, weight_decay: 0.01, max_grad_norm: 1 },
  });
  return Math.min(...(out.train_step_s as number[]));
}

/** New tokens per second generating `newTokens` greedily for a batch, with the KV cache and with recompute. */
async function generationTokS(
  model: BenchModel,
  options: { batch: number; prompt: number; newTokens: number; threads: number },
): Promise<{ kv: number; recompute: number }> {
  const runtime = new ModelRuntime(model.config, { session: { intraOpThreads: options.threads }, name: "bench" });
  try {
    runtime.setWeights(initWeights(model.config, { seed: 3, std: 0.5 }));
    const rng = new Rng(4);
    const prompts = Array.from(
      { length: options.batch },
      () => Array.from({ length: options.prompt }, () => 1 + rng.int(0, model.config.vocabSize - 2)),
    );
    const generator = new Generator(runtime);
    const run = (mode: "kv" | "recompute") =>
      generator.generate(prompts, { maxNewTokens: options.newTokens, stopTokens: [], mode });
    const tokens = options.batch * options.newTokens;
    await run("kv"); // compiles every session each mode needs
    await run("recompute");
    // Alternating the modes gives both the same chance at a quiet moment of the shared machine.
    const best = { kv: Infinity, recompute: Infinity };
    for (let i = 0; i < 3; i++) {
      for (const mode of ["kv", "recompute"] as const) {
        best[mode] = Math.min(best[mode], await timeIt(1, () => run(mode)));
      }
    }
    return { kv: tokens / best.kv, recompute: tokens / best.recompute };
  } finally {
    await runtime.release();
  }
}

/** The engine benchmark's JSON (exactly the keys). */
export interface EngineBenchResult {
  matmul_gflops: number;
  train: Record<
    "tiny" | "small",
    { tok_s_1t: number; tok_s_2t: number; mfu_2t: number; torch_tok_s_1t?: number; torch_tok_s_2t?: number }
  >;
  gen_kv_tok_s: number;
  gen_recompute_tok_s: number;
  gen_kv_speedup: number;
}

/** Runs the engine benchmark; `--quick` runs fewer steps. */
export async function runEngineBench(args: readonly string[] = []): Promise<EngineBenchResult> {
  const quick = args.includes("--quick");
  ort.env.logLevel = "error";
  const probe = new MatmulProbe();
  const train = {} as EngineBenchResult["train"];
  const timings: Record<string, { s1: number; s2: number; t1?: number; t2?: number }> = {};
  const noTorch = args.includes("--no-torch") ? "--no-torch given" : await torchUnavailable();
  const loadBefore = Deno.loadavg()[0]!;
  if (noTorch) console.log(`bench engine: PyTorch columns skipped: ${noTorch}`);
  try {
    for (const name of ["tiny", "small"] as const) {
      const steps = quick ? 3 : name === "tiny" ? 20 : 8;
      const s1 = await trainStepSeconds(BENCH_MODELS[name], 1, { steps, probe });
      const s2 = await trainStepSeconds(BENCH_MODELS[name], 2, { steps, probe });
      timings[name] = { s1, s2 };
      if (!noTorch) {
        // The same model shape, batch, loss and optimizer in PyTorch eager, right after Coop's (same machine load).
        timings[name]!.t1 = await torchStepSeconds(BENCH_MODELS[name], 1, steps + 2);
        timings[name]!.t2 = await torchStepSeconds(BENCH_MODELS[name], 2, steps + 2);
      }
    }
  } finally {
    await probe.release();
  }
  const matmul = probe.gflops;
  const rows = [];
  for (const name of ["tiny", "small"] as const) {
    const model = BENCH_MODELS[name];
    const tokens = model.batch * model.seq;
    const { s1, s2, t1, t2 } = timings[name]!;
    const flops = trainStepFlops(model);
    train[name] = { tok_s_1t: tokens / s1, tok_s_2t: tokens / s2, mfu_2t: flops / s2 / (matmul * 1e9) };
    if (t1 !== undefined && t2 !== undefined) {
      train[name].torch_tok_s_1t = tokens / t1;
      train[name].torch_tok_s_2t = tokens / t2;
    }
    rows.push({
      model: name,
      batch: `${model.batch}x${model.seq}`,
      "step GFLOP": flops / 1e9,
      "tok/s 1t": tokens / s1,
      "tok/s 2t": tokens / s2,
      "torch 1t": t1 === undefined ? "-" : tokens / t1,
      "torch 2t": t2 === undefined ? "-" : tokens / t2,
      "coop/torch 1t": t1 === undefined ? "-" : t1 / s1,
      "coop/torch 2t": t2 === undefined ? "-" : t2 / s2,
      "GFLOP/s 2t": flops / s2 / 1e9,
      "MFU 2t": train[name].mfu_2t,
    });
  }
  const gen = await generationTokS(BENCH_MODELS.small, { batch: 8, prompt: 32, newTokens: 64, threads: 2 });
  const result: EngineBenchResult = {
    matmul_gflops: matmul,
    train,
    gen_kv_tok_s: gen.kv,
    gen_recompute_tok_s: gen.recompute,
    gen_kv_speedup: gen.kv / gen.recompute,
  };
  const load = `load average ${loadBefore.toFixed(1)} -> ${Deno.loadavg()[0]!.toFixed(1)}`;
  printTable(
    `engine: training step (onnxruntime 1024³ MatMul, 2 threads: ${matmul.toFixed(1)} GFLOP/s; ${load})`,
    rows,
  );
  printTable("engine: generation, small model, batch 8, prompt 32, 64 new tokens, 2 threads", [{
    "KV cache tok/s": gen.kv,
    "recompute tok/s": gen.recompute,
    speedup: gen.kv / gen.recompute,
  }]);
  await Deno.mkdir(BENCH_OUT_DIR, { recursive: true });
  await Deno.writeTextFile(`${BENCH_OUT_DIR}engine.json`, JSON.stringify(result, null, 2) + "\n");
  return result;
}

if (import.meta.main) await runEngineBench(Deno.args);
