/**
 * The RM sweep: which reward model (size, input layout, labelled-set size, steps) verifies the SFT policy's answers.
 * In-process, no cluster: the warmed-up SFT policy samples a labelled set (several temperatures, plus reference
 * solutions, verified-wrong rule rewrites of every correct completion and bare answers; `buildLabelledSet`), a
 * fresh RM is trained with VerifyRM-style BCE, and every `--eval-every` steps it is scored on validation tasks
 * disjoint from the RM's training tasks and from the demo's reported held-out set:
 * - pair: (correct, wrong) samples of the SFT policy for the same prompt (8 samples at temperature 1, as GRPO sees
 *   them) ordered right;
 * - cls: σ(RM) > ½ against the verifier's verdict on those samples; bal: the mean of the per-class accuracies;
 * - ref: (worked solution, verified wrong rewrite) pairs, as in the demo table.
 *
 * Samples are cached in `--cache` so configs differ only in the RM. One JSON line per evaluation on stdout:
 *   deno run -A coordinator/run/rm_sweep.ts --policy runs/demo/sft/policy --layout ref-last --d 64 --layers 2
 */
import { mixSeed } from "../../shared/mod.ts";
import { parseArgs } from "node:util";
import { RewardLearner } from "../../actors/roles/mod.ts";
import { loadTokenizer, tinyHfConfig } from "../../actors/roles/mod.ts";
import { Generator } from "../../engine/generate/mod.ts";
import { parseDecoderConfig } from "../../engine/io/mod.ts";
import { loadWeights, ModelRuntime } from "../../engine/models/mod.ts";
import { Scorer } from "../../engine/score/mod.ts";
import {
  BalancedSampler,
  buildLabelledSet,
  formatPrompt,
  formatRmInput,
  type MathTask,
  type RmLayout,
  RuleNegativeSynthesizer,
  verify,
} from "../../rl/mod.ts";
import { generateTasks } from "../../rl/tasks/mod.ts";
import { verificationPairs } from "./data.ts";

const VALID_SAMPLES = 8;

interface Cache {
  train: { task: MathTask; samples: string[] }[];
  valid: { task: MathTask; samples: string[] }[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      policy: { type: "string", default: "runs/demo/sft/policy" },
      cache: { type: "string", default: "runs/rm_sweep_samples.json" },
      layout: { type: "string", default: "ref-last" },
      d: { type: "string", default: "64" },
      layers: { type: "string", default: "2" },
      heads: { type: "string", default: "4" },
      steps: { type: "string", default: "1000" },
      batch: { type: "string", default: "32" },
      lr: { type: "string", default: "1e-3" },
      tasks: { type: "string", default: "1500" },
      temps: { type: "string", default: "0.7,1.0,1.3" },
      samples: { type: "string", default: "2" },
      "eval-every": { type: "string", default: "250" },
      seed: { type: "string", default: "2" },
    },
  });
  const layout = values.layout as RmLayout;
  const tokenizer = await loadTokenizer("char");
  const cache = await samplesCache(values.cache, values.policy, {
    tasks: Number(values.tasks),
    temps: values.temps.split(",").map(Number),
    samples: Number(values.samples),
  });
  const seed = Number(values.seed);
  const items = await buildLabelledSet(cache.train, { synthesizer: new RuleNegativeSynthesizer(), seed });
  const positives = items.filter((i) => i.label === 1).length;
  const d = Number(values.d);
  const hfConfig = tinyHfConfig({
    dModel: d,
    nLayers: Number(values.layers),
    nHeads: Number(values.heads),
    dFF: 4 * d,
    maxSeqLen: 256,
  }, { classifier: true, tokenizer });
  const batch = Number(values.batch);
  const learner = new RewardLearner({
    rewardModel: { hfConfig, tokenizer: "char", weights: { kind: "random", seed } },
    objective: "bce",
    optim: { lr: Number(values.lr), gradClip: 1, weightDecay: 0.01, microBatchSize: batch },
  });
  const scoreAt = await validator(cache, layout, hfConfig);
  const tmp = await Deno.makeTempDir({ prefix: "rm_sweep_" });
  const label = { layout, d, layers: Number(values.layers), items: items.length, positives, batch, lr: values.lr };
  const started = performance.now();
  try {
    const sampler = new BalancedSampler(items, seed);
    const steps = Number(values.steps);
    for (let step = 0; step < steps; step++) {
      const rows = sampler.next(batch).map((it) => ({
        input: formatRmInput(it.question, it.reference, it.completion, layout),
        label: it.label,
      }));
      await learner.updateLabelled(rows);
      if ((step + 1) % Number(values["eval-every"]) === 0 || step + 1 === steps) {
        const trainSeconds = (performance.now() - started) / 1000;
        await learner.save(`${tmp}/rm`);
        const scores = await scoreAt(`${tmp}/rm`);
        console.log(JSON.stringify({ ...label, step: step + 1, trainSeconds: Math.round(trainSeconds), ...scores }));
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Samples the SFT policy once (train tasks at each temperature; validation at temperature 1) and caches them. */
async function samplesCache(
  path: string,
  policyDir: string,
  options: { tasks: number; temps: number[]; samples: number },
): Promise<Cache> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as Cache;
  } catch { /* not cached yet */ }
  const tokenizer = await loadTokenizer("char");
  const generator = new Generator(await checkpointRuntime(policyDir, "policy"));
  const sample = async (tasks: readonly MathTask[], n: number, temperature: number, seed: number) => {
    const out: string[][] = tasks.map(() => []);
    for (let i = 0; i < tasks.length; i += 64) {
      const chunk = tasks.slice(i, i + 64);
      const rows = chunk.flatMap((t) =>
        Array.from({ length: n }, () => tokenizer.encode(formatPrompt(t.question), { addBos: true }))
      );
      const gen = await generator.generate(rows, { maxNewTokens: 24, temperature, seed: mixSeed(seed, i) });
      gen.tokens.forEach((ids, r) => out[i + Math.floor(r / n)]!.push(tokenizer.decode(ids)));
    }
    return out;
  };
  // The demo's reported held-out set (eval seed 1000003) is excluded from both.
  const demoEval = generateTasks(64, { levels: [1, 2], seed: 1_000_003 });
  const trainTasks = generateTasks(options.tasks, {
    levels: [1, 2],
    seed: 7,
    exclude: new Set(demoEval.map((t) => t.question)),
  });
  const validTasks = generateTasks(96, {
    levels: [1, 2],
    seed: 4242,
    exclude: new Set([...demoEval, ...trainTasks].map((t) => t.question)),
  });
  const train = trainTasks.map((task) => ({ task, samples: [] as string[] }));
  for (const [k, temperature] of options.temps.entries()) {
    const texts = await sample(trainTasks, options.samples, temperature, mixSeed(11, k));
    texts.forEach((s, i) => train[i]!.samples.push(...s));
  }
  const validTexts = await sample(validTasks, VALID_SAMPLES, 1, 12345);
  const cache = { train, valid: validTasks.map((task, i) => ({ task, samples: validTexts[i]! })) };
  await Deno.writeTextFile(path, JSON.stringify(cache));
  return cache;
}

/** Scores an RM checkpoint on the validation samples and verification pairs. */
async function validator(cache: Cache, layout: RmLayout, hfConfig: Record<string, unknown>) {
  const tokenizer = await loadTokenizer("char");
  const maxLen = Number(hfConfig.max_position_embeddings);
  const encode = (q: string, r: string, c: string) => {
    const ids = tokenizer.encode(formatRmInput(q, r, c, layout), { addBos: true });
    return ids.length > maxLen ? [ids[0]!, ...ids.slice(ids.length - maxLen + 1)] : ids;
  };
  const rows = cache.valid.flatMap(({ task, samples }) =>
    samples.map((s) => ({ task, text: s, correct: verify(s, task.answer).verdict === "correct" }))
  );
  const refPairs = await verificationPairs(cache.valid.map((v) => v.task), 99);
  return async (dir: string) => {
    const scorer = new Scorer(await checkpointRuntime(dir, "rm"));
    const s = await scorer.rewards(rows.map((r) => encode(r.task.question, r.task.answer, r.text)));
    let wins = 0;
    let pairs = 0;
    for (let a = 0; a < rows.length; a++) {
      const g = Math.floor(a / VALID_SAMPLES) * VALID_SAMPLES;
      for (let b = g; b < g + VALID_SAMPLES; b++) {
        if (!rows[a]!.correct || rows[b]!.correct) continue;
        pairs++;
        wins += s[a]! > s[b]! ? 1 : s[a] === s[b] ? 0.5 : 0;
      }
    }
    const right = rows.map((r, i) => (s[i]! > 0) === r.correct);
    const pos = rows.map((r, i) => [r.correct, right[i]] as const);
    const tp = pos.filter(([c, ok]) => c && ok).length / Math.max(1, pos.filter(([c]) => c).length);
    const tn = pos.filter(([c, ok]) => !c && ok).length / Math.max(1, pos.filter(([c]) => !c).length);
    const ref = await scorer.rewards([
      ...refPairs.map((p) => encode(p.question, p.reference, p.positive)),
      ...refPairs.map((p) => encode(p.question, p.reference, p.negative)),
    ]);
    const refAcc = refPairs.filter((_, i) => ref[i]! > ref[i + refPairs.length]!).length / refPairs.length;
    return {
      pair: round(wins / pairs),
      pairs,
      cls: round(right.filter(Boolean).length / rows.length),
      bal: round((tp + tn) / 2),
      ref: round(refAcc),
      validCorrect: round(rows.filter((r) => r.correct).length / rows.length),
    };
  };
}

/** A one-thread runtime of a saved checkpoint (config.json + weights), for in-process scoring and sampling. */
export async function checkpointRuntime(dir: string, name: string): Promise<ModelRuntime> {
  const config = parseDecoderConfig(JSON.parse(await Deno.readTextFile(`${dir}/config.json`)));
  const runtime = new ModelRuntime(config, { name, session: { intraOpThreads: 1 } });
  runtime.setWeights(await loadWeights(dir, config));
  return runtime;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

if (import.meta.main) await main();
