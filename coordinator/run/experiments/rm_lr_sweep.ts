/**
 * An RM-only sweep of the Cooper RM-update learning rate, used to choose `rewardUpdate.lr` for the demo without
 * looking at policy outcomes: no policy is trained. The warmed-up SFT policy samples the demo's training prompts
 * (8 prompts × 4 samples per step, as in `rl/configs/demo.yaml`); each step's verified pairs (correct sample,
 * verifier-wrong rule rewrite; one per prompt group, as in the driver) make a fixed pair stream. For each lr a fresh
 * copy of the pretrained RM takes one pairwise update per step on that stream, and is scored every 50 steps on
 * validation tasks disjoint from both the training tasks and the demo's reported held-out set:
 * - pair accuracy: (worked solution, verified wrong rewrite) pairs, as in the demo table;
 * - sample ranking accuracy: the SFT policy's own samples, (correct, wrong) pairs of the same prompt ordered right.
 *
 * Run after `./coop demo` has written the warm-up checkpoints (in-process, on one core, ~25 s per lr):
 *   deno run -A coordinator/run/experiments/rm_lr_sweep.ts [--steps 100] 1e-5 1e-4 3e-4 1e-3 3e-3
 */
import { mixSeed } from "../../../shared/mod.ts";
import { parseArgs } from "node:util";
import { RewardLearner } from "../../../actors/roles/mod.ts";
import { loadTokenizer } from "../../../actors/roles/mod.ts";
import { Generator } from "../../../engine/generate/mod.ts";
import { Scorer } from "../../../engine/score/mod.ts";
import {
  buildPairs,
  formatPrompt,
  formatRmInput,
  type MathTask,
  RuleNegativeSynthesizer,
  verify,
} from "../../../rl/mod.ts";
import { generateTasks } from "../../../rl/tasks/mod.ts";
import { loadRunData, tasksForStep, verificationPairs } from "../data.ts";
import { checkpointRuntime } from "../rm_sweep.ts";

const PROMPTS = 8;
const SAMPLES = 4;
const MAX_NEW_TOKENS = 24;
const RM_MAX_LEN = 256;

type Sample = (tasks: readonly MathTask[], n: number, seed: number) => Promise<string[]>;
type Encode = (question: string, reference: string, completion: string) => number[];
type PairStream = { positive: string; negative: string }[][];

function sweepArgs(): { steps: number; lrs: number[]; policy: string; rm: string } {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      steps: { type: "string", default: "100" },
      policy: { type: "string", default: "runs/demo/sft/policy" },
      rm: { type: "string", default: "runs/demo/rm/reward_model" },
    },
  });
  const lrs = positionals.map(Number);
  if (lrs.length === 0 || lrs.some((lr) => !(lr > 0))) {
    console.error("usage: rm_lr_sweep.ts [--steps N] [--policy DIR] [--rm DIR] LR...");
    Deno.exit(2);
  }
  return { steps: Number(values.steps), lrs, policy: values.policy, rm: values.rm };
}

async function main(): Promise<void> {
  const args = sweepArgs();
  const rmDir = await Deno.realPath(args.rm);
  const tokenizer = await loadTokenizer("char");
  // The demo's data (demo.yaml: levels 1-2, data seed 0, 2000 tasks; eval seed 1000003, 64 tasks; run seed 1).
  const data = await loadRunData({ source: "builtin", levels: [1, 2], seed: 0, size: 2000 }, {
    size: 64,
    seed: 1000003,
  }, 1);
  const exclude = new Set([...data.train, ...data.eval].map((t) => t.question));
  const valid = generateTasks(64, { levels: [1, 2], seed: 4242, exclude });
  const generator = new Generator(await checkpointRuntime(args.policy, "policy"));
  const sample: Sample = async (tasks, n, seed) => {
    const rows = tasks.flatMap((t) =>
      Array.from({ length: n }, () => tokenizer.encode(formatPrompt(t.question), { addBos: true }))
    );
    const out = await generator.generate(rows, { maxNewTokens: MAX_NEW_TOKENS, temperature: 1, seed });
    return out.tokens.map((t) => tokenizer.decode(t));
  };
  const encode: Encode = (question, reference, completion) => {
    const ids = tokenizer.encode(formatRmInput(question, reference, completion), { addBos: true });
    return ids.length > RM_MAX_LEN ? [ids[0]!, ...ids.slice(ids.length - RM_MAX_LEN + 1)] : ids;
  };
  const stream = await pairStream(data.train, sample, args.steps);
  const perStep = stream.reduce((n, s) => n + s.length, 0) / args.steps;
  console.log(`${args.steps} steps, ${perStep.toFixed(2)} verified pairs per step`);
  const score = await validationScorer(valid, sample, encode);
  console.log(`pretrained RM: ${await score(rmDir)}`);
  const tmp = await Deno.makeTempDir({ prefix: "rm_lr_sweep_" });
  try {
    for (const lr of args.lrs) {
      console.log(`lr ${lr}: ${await sweepOne({ lr, rmDir, stream, score, dir: tmp })}`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** The fixed stream of verified pairs: per step, the SFT policy's samples of the step's prompts, paired as the driver does. */
async function pairStream(train: readonly MathTask[], sample: Sample, steps: number): Promise<PairStream> {
  const synthesizer = new RuleNegativeSynthesizer();
  const stream: PairStream = [];
  for (let step = 0; step < steps; step++) {
    const tasks = tasksForStep(train, step, PROMPTS);
    const texts = await sample(tasks, SAMPLES, mixSeed(1, step, 0));
    const groups = tasks.map((t, i) => ({
      question: t.question,
      reference: t.answer,
      responses: texts.slice(i * SAMPLES, (i + 1) * SAMPLES),
    }));
    const pairs = await buildPairs(groups, { synthesizer, seed: mixSeed(1, step, 7) });
    stream.push(pairs.pairs.map((p) => ({ positive: p.positiveInput, negative: p.negativeInput })));
  }
  return stream;
}

/** Scores an RM checkpoint on the validation tasks: pair accuracy and within-prompt sample ranking accuracy. */
async function validationScorer(
  valid: readonly MathTask[],
  sample: Sample,
  encode: Encode,
): Promise<(dir: string) => Promise<string>> {
  const pairs = await verificationPairs(valid, 99);
  const validTexts = await sample(valid, 8, 12345);
  const correct = validTexts.map((t, i) => verify(t, valid[Math.floor(i / 8)]!.answer).verdict === "correct");
  return async (dir) => {
    const scorer = new Scorer(await checkpointRuntime(dir, "rm"));
    const both = await scorer.rewards([
      ...pairs.map((p) => encode(p.question, p.reference, p.positive)),
      ...pairs.map((p) => encode(p.question, p.reference, p.negative)),
    ]);
    const pairAcc = pairs.filter((_, i) => both[i]! > both[i + pairs.length]!).length / pairs.length;
    const s = await scorer.rewards(validTexts.map((t, i) => {
      const task = valid[Math.floor(i / 8)]!;
      return encode(task.question, task.answer, t);
    }));
    let wins = 0;
    let total = 0;
    for (let a = 0; a < s.length; a++) {
      for (let b = Math.floor(a / 8) * 8; b < Math.floor(a / 8) * 8 + 8; b++) {
        if (!correct[a] || correct[b]) continue;
        total++;
        wins += s[a]! > s[b]! ? 1 : s[a] === s[b] ? 0.5 : 0;
      }
    }
    return `pair acc ${pct(pairAcc)}, sample ranking acc ${pct(wins / total)}`;
  };
}

/** A fresh copy of the pretrained RM takes one pairwise update per step at `lr`, scored every 50 steps. */
async function sweepOne(options: {
  lr: number;
  rmDir: string;
  stream: PairStream;
  score: (dir: string) => Promise<string>;
  dir: string;
}): Promise<string> {
  const { lr, rmDir, stream, score } = options;
  const learner = new RewardLearner({
    rewardModel: {
      hfConfig: JSON.parse(await Deno.readTextFile(`${rmDir}/config.json`)),
      tokenizer: "char",
      weights: { kind: "checkpoint", dir: rmDir },
    },
    objective: "pairwise",
    optim: { lr, gradClip: 1, weightDecay: 0.01, microBatchSize: 16 },
  });
  const line: string[] = [];
  for (let step = 0; step < stream.length; step++) {
    if (stream[step]!.length > 0) await learner.updatePairs(stream[step]!);
    if ((step + 1) % 50 === 0 || step + 1 === stream.length) {
      const dir = `${options.dir}/lr-${lr}-${step + 1}`;
      await learner.save(dir);
      line.push(`step ${step + 1}: ${await score(dir)}`);
    }
  }
  return line.join(" | ");
}

function pct(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

if (import.meta.main) await main();
