/**
 * One role of `./coop bench real`, run in its own process so its peak RSS (VmHWM) is its own:
 * `deno run -A bench/real_role.ts <learner|rollout|reference> <size> [steps]`. Prints one JSON line.
 *
 * - learner: random init (the load time), the compiled training step (in-place AdamW, batch 2x128) and a weight
 *   publish (the safetensors bytes every rollout actor fetches).
 * - rollout: weights loaded into an inference runtime, greedy generation of 2 x 32 new tokens after 64-token prompts.
 * - rm-learner / rm-learner-frozen: the 1-label reward model of the same shape, one pairwise step on one pair of
 *   2x128 sequences, then (the colocated RM scoring) a score of both rows from the learner's live weights;
 *   `-frozen` keeps the embedding table fixed (`rewardUpdate.freezeEmbedding`: no gradient, no moments for it).
 * - reference: one log-prob forward over a 2x128 batch (what the reference model and the reward model run per step);
 *   reference16 is the same with float16 weights (cast to float32 inside the graph).
 */
import * as ort from "onnxruntime-node";
import { encodeWeights } from "../actors/roles/model_spec.ts";
import { Generator } from "../engine/generate/generator.ts";
import { initWeights } from "../engine/models/params.ts";
import { ModelRuntime } from "../engine/models/runtime.ts";
import { lmTrainingLoss, Scorer } from "../engine/score/mod.ts";
import { Trainer } from "../engine/train/mod.ts";
import { tensor } from "../shared/tensor.ts";
import { packPairBatch } from "../rl/batches.ts";
import { pairwiseTrainingLoss } from "../rl/training_losses.ts";
import { parseDecoderConfig } from "../engine/io/mod.ts";
import { REAL_SHAPES, realConfig, type RealSize } from "./real_shapes.ts";

/** The batch shapes of every size (the issue's: training 2x128, generation 2 x (64 + 32)). */
export const REAL_BATCH = { batch: 2, seq: 128, prompt: 64, newTokens: 32 } as const;
const SESSION = { intraOpThreads: 2, memArena: false, memPattern: false } as const;

/** Peak resident set of this process so far, GiB. */
export function peakRssGib(): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+)\s+kB/);
  return m ? Number(m[1]) / 2 ** 20 : NaN;
}

const seconds = (start: number) => (performance.now() - start) / 1000;

function tokens(n: number, vocab: number, salt: number): number[] {
  return Array.from({ length: n }, (_, i) => 1 + ((i + 1) * 7919 + salt * 104729) % (vocab - 1));
}

async function learner(size: RealSize, steps: number) {
  const config = realConfig(size);
  let start = performance.now();
  const trainer = new Trainer({
    loss: lmTrainingLoss(config),
    params: Object.fromEntries(initWeights(config, { seed: 1 })),
    adoptParams: true,
    adamw: { weightDecay: 0.01, maxGradNorm: 1 },
    session: SESSION,
    name: "learner",
  });
  const loadS = seconds(start);
  const { batch: b, seq: t } = REAL_BATCH;
  const batch = {
    input_ids: tensor("int64", [b, t], tokens(b * t, config.vocabSize, 1)),
    attention_mask: tensor("int64", [b, t], new Array(b * t).fill(1)),
  };
  start = performance.now();
  await trainer.compile(batch);
  const compileS = seconds(start);
  const stepS: number[] = [];
  const losses: number[] = [];
  const graphS: number[] = [];
  const updateS: number[] = [];
  let updateThreads = 0;
  for (let i = 0; i < steps; i++) {
    start = performance.now();
    const r = await trainer.step(batch, { lr: 1e-4 });
    stepS.push(seconds(start));
    losses.push(r.loss);
    graphS.push(r.timing.graphMs / 1000);
    updateS.push(r.timing.updateMs / 1000);
    updateThreads = r.timing.updateThreads;
  }
  const peakStep = peakRssGib();
  start = performance.now();
  const bytes = encodeWeights(new Map(Object.entries(trainer.params())), 1).byteLength;
  const publishS = seconds(start);
  await trainer.release();
  return {
    loadS,
    compileS,
    stepS,
    graphS,
    updateS,
    updateThreads,
    losses,
    peakStep,
    publishS,
    publishBytes: bytes,
    peak: peakRssGib(),
  };
}

/** The reward learner: pairwise steps, then colocated scoring from the live weights; optionally a frozen embedding. */
async function rmLearner(size: RealSize, steps: number, frozen: boolean) {
  const hf = REAL_SHAPES[size];
  const config = parseDecoderConfig({
    ...hf,
    architectures: ["Qwen2ForSequenceClassification"],
    num_labels: 1,
    tie_word_embeddings: false,
  });
  let start = performance.now();
  const params = Object.fromEntries(initWeights(config, { seed: 2 }));
  const trainer = new Trainer({
    loss: pairwiseTrainingLoss(config),
    params,
    adoptParams: true,
    trainable: Object.keys(params).filter((n) => !(frozen && n === "model.embed_tokens.weight")),
    adamw: { weightDecay: 0.01, maxGradNorm: 1 },
    session: SESSION,
    name: "rm-learner",
  });
  const loadS = seconds(start);
  const { seq: t } = REAL_BATCH;
  const pair = { positive: tokens(t, config.vocabSize, 1), negative: tokens(t, config.vocabSize, 2) };
  const batch = packPairBatch([pair], { padId: 0, lengthBucket: t, rows: 1 });
  const stepS: number[] = [];
  for (let i = 0; i < steps; i++) {
    start = performance.now();
    await trainer.step(batch, { lr: 1e-5 });
    stepS.push(seconds(start));
  }
  const peakStep = peakRssGib();
  const runtime = new ModelRuntime(config, { session: SESSION, name: "colocated-rm" });
  runtime.shareWeights(trainer.paramFeeds());
  start = performance.now();
  const scores = await new Scorer(runtime).rewards([pair.positive, pair.negative]);
  const scoreS = seconds(start);
  await runtime.release();
  await trainer.release();
  return { frozen, loadS, stepS, peakStep, scoreS, scores, peak: peakRssGib() };
}

async function inference(role: "rollout" | "reference" | "reference16", size: RealSize) {
  const config = realConfig(size);
  let start = performance.now();
  const weightDtype = role === "reference16" ? "float16" : "float32";
  const runtime = new ModelRuntime(config, { session: SESSION, name: role, weightDtype });
  runtime.setWeights(initWeights(config, { seed: 1 }));
  const loadS = seconds(start);
  try {
    if (role === "rollout") {
      const { batch, prompt, newTokens } = REAL_BATCH;
      const prompts = Array.from({ length: batch }, (_, r) => tokens(prompt, config.vocabSize, r));
      const generator = new Generator(runtime);
      const run = () => generator.generate(prompts, { maxNewTokens: newTokens, stopTokens: [] });
      start = performance.now();
      await run(); // compiles the prefill and decode sessions
      const firstS = seconds(start);
      start = performance.now();
      await run();
      const genS = seconds(start);
      return { loadS, firstS, genS, tokS: (batch * newTokens) / genS, peak: peakRssGib() };
    }
    const { batch, seq } = REAL_BATCH;
    const rows = Array.from({ length: batch }, (_, r) => tokens(seq, config.vocabSize, r));
    const scorer = new Scorer(runtime);
    start = performance.now();
    await scorer.tokenLogprobs(rows);
    const firstS = seconds(start);
    start = performance.now();
    await scorer.tokenLogprobs(rows);
    const forwardS = seconds(start);
    return { loadS, firstS, forwardS, tokS: (batch * seq) / forwardS, peak: peakRssGib() };
  } finally {
    await runtime.release();
  }
}

if (import.meta.main) {
  ort.env.logLevel = "error";
  const [role, size = "small", steps = "2"] = Deno.args;
  const result = role === "learner"
    ? await learner(size as RealSize, Number(steps))
    : role?.startsWith("rm-learner")
    ? await rmLearner(size as RealSize, Number(steps), role === "rm-learner-frozen")
    : await inference(role as "rollout" | "reference" | "reference16", size as RealSize);
  console.log(JSON.stringify({ role, size, ...result }));
}
