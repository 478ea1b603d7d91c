import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { Generator } from "../../engine/generate/generator.ts";
import { ModelRuntime } from "../../engine/models/runtime.ts";
import { readFixture } from "../../engine/parity/fixture.ts";
import { Scorer } from "../../engine/score/scorer.ts";
import { fixtureDir } from "./parity_fixtures.ts";

async function runtimeFor(name: string): Promise<ModelRuntime> {
  const fixture = await readFixture(fixtureDir(name));
  const runtime = new ModelRuntime(fixture.config, { session: { intraOpThreads: 1 } });
  runtime.setWeights(fixture.weights);
  return runtime;
}

function closeTo(actual: number[][], expected: number[][], tolerance: number, what: string): void {
  strictEqual(actual.length, expected.length);
  actual.forEach((row, r) => {
    strictEqual(row.length, expected[r]!.length, `${what} row ${r} length`);
    row.forEach((x, i) =>
      ok(Math.abs(x - expected[r]![i]!) <= tolerance, `${what} [${r}][${i}]: ${x} vs ${expected[r]![i]}`)
    );
  });
}

// Prompt lengths straddle the 16-token bucket so both the padded prefill and the cache boundary are exercised.
const PROMPTS = [
  [5, 17, 250],
  Array.from({ length: 14 }, (_, i) => (i * 37) % 300),
  Array.from({ length: 20 }, (_, i) => (i * 11 + 3) % 300),
];

Deno.test("kv cache - sampled tokens and log-probs equal full recompute", async () => {
  const runtime = await runtimeFor("qwen2-tiny");
  try {
    const gen = new Generator(runtime);
    const options = { maxNewTokens: 20, temperature: 1, topK: 50, seed: 11, stopTokens: [] };
    const kv = await gen.generate(PROMPTS, options);
    const full = await gen.generate(PROMPTS, { ...options, mode: "recompute" });
    deepStrictEqual(kv.tokens, full.tokens);
    closeTo(kv.logprobs, full.logprobs, 1e-4, "logprobs");
    closeTo(kv.samplingLogprobs, full.samplingLogprobs, 1e-4, "samplingLogprobs");
    ok(kv.tokens.every((row) => row.length === 20));
  } finally {
    await runtime.release();
  }
});

Deno.test("left padding - a row's tokens and log-probs do not depend on its batch or pad length", async () => {
  const runtime = await runtimeFor("llama-tiny");
  try {
    const alone = await new Generator(runtime).generate([PROMPTS[0]!], { maxNewTokens: 8, stopTokens: [] });
    const batched = await new Generator(runtime).generate(PROMPTS, { maxNewTokens: 8, stopTokens: [] });
    const padded = await new Generator(runtime, { lengthBucket: 48 }).generate(PROMPTS, {
      maxNewTokens: 8,
      stopTokens: [],
    });
    deepStrictEqual(batched.tokens[0], alone.tokens[0]);
    deepStrictEqual(padded.tokens, batched.tokens);
    closeTo([batched.logprobs[0]!], alone.logprobs, 1e-5, "batched vs alone");
    closeTo(padded.logprobs, batched.logprobs, 1e-5, "bucket 48 vs 16");
  } finally {
    await runtime.release();
  }
});

Deno.test("scoring - per-token log-probs agree with generation and ignore batch padding", async () => {
  const runtime = await runtimeFor("qwen2-tiny");
  try {
    const gen = await new Generator(runtime).generate(PROMPTS, {
      maxNewTokens: 6,
      temperature: 1,
      seed: 2,
      stopTokens: [],
    });
    const sequences = PROMPTS.map((p, r) => [...p, ...gen.tokens[r]!]);
    const scorer = new Scorer(runtime);
    const all = await scorer.tokenLogprobs(sequences);
    const single = await scorer.tokenLogprobs([sequences[0]!]);
    closeTo([all[0]!], single, 1e-5, "batched vs alone");
    // The last 6 log-probs of each sequence are the generated tokens' temperature-1 log-probs.
    closeTo(all.map((row) => row.slice(-6)), gen.logprobs, 1e-4, "scorer vs generator");
    strictEqual(all[1]!.length, sequences[1]!.length - 1);
  } finally {
    await runtime.release();
  }
});

Deno.test("reward scoring - scores at each row's last token match the reference", async () => {
  const fixture = await readFixture(fixtureDir("qwen2-rm-tiny"));
  const runtime = new ModelRuntime(fixture.config);
  try {
    runtime.setWeights(fixture.weights);
    const rows = fixture.inputIds.map((row, r) => row.filter((_, i) => fixture.attentionMask[r]![i] === 1));
    const scores = await new Scorer(runtime).rewards(rows);
    const expected = Array.from(fixture.expected.get("scores")!.data as Float32Array);
    scores.forEach((s, i) =>
      ok(Math.abs(s - expected[i]!) < 1e-4 * Math.max(1, Math.abs(expected[i]!)), `${s} vs ${expected[i]}`)
    );
  } finally {
    await runtime.release();
  }
});

Deno.test("generation - stop tokens end a row, seeds reproduce, other rows continue", async () => {
  const runtime = await runtimeFor("qwen2-tiny");
  try {
    const gen = new Generator(runtime);
    const greedy = await gen.generate(PROMPTS, { maxNewTokens: 5, stopTokens: [] });
    const stop = greedy.tokens[0]![1]!;
    const stopped = await gen.generate(PROMPTS, { maxNewTokens: 5, stopTokens: [stop] });
    deepStrictEqual(stopped.tokens[0], greedy.tokens[0]!.slice(0, greedy.tokens[0]!.indexOf(stop) + 1));
    strictEqual(stopped.stopped[0], true);
    for (let r = 1; r < PROMPTS.length; r++) {
      const at = greedy.tokens[r]!.indexOf(stop);
      deepStrictEqual(stopped.tokens[r], at < 0 ? greedy.tokens[r] : greedy.tokens[r]!.slice(0, at + 1));
    }
    const sample = (seed: number) =>
      gen.generate(PROMPTS, { maxNewTokens: 12, temperature: 1.5, seed, stopTokens: [] });
    const a = await sample(1);
    deepStrictEqual((await sample(1)).tokens, a.tokens);
    ok(JSON.stringify((await sample(2)).tokens) !== JSON.stringify(a.tokens));
  } finally {
    await runtime.release();
  }
});

Deno.test("generation - bad input is rejected with a reason", async () => {
  const fixture = await readFixture(fixtureDir("qwen2-tiny"));
  const runtime = new ModelRuntime(fixture.config, { name: "policy" });
  try {
    const gen = new Generator(runtime);
    await rejects(gen.generate([[1, 2]], { maxNewTokens: 2 }), { name: "ModelInputError", message: /no weights/ });
    runtime.setWeights(fixture.weights);
    await rejects(gen.generate([[1], []], { maxNewTokens: 2 }), {
      name: "ModelInputError",
      message: /prompt 1 is empty/,
    });
    await rejects(gen.generate([[1, 300]], { maxNewTokens: 2 }), { name: "ModelInputError", message: /token id 300/ });
    await rejects(gen.generate([[1]], { maxNewTokens: 0 }), { name: "ModelInputError", message: /maxNewTokens/ });
    await rejects(gen.generate([[1]], { maxNewTokens: 2, topP: 2 }), { name: "SamplingError", message: /topP/ });
    await rejects(new Scorer(runtime).rewards([[1, 2]]), { name: "ModelInputError", message: /not a reward model/ });
    const rm = await readFixture(fixtureDir("qwen2-rm-tiny"));
    const rmRuntime = new ModelRuntime(rm.config, { name: "rm" });
    rmRuntime.setWeights(rm.weights);
    await rejects(new Generator(rmRuntime).generate([[1]], { maxNewTokens: 1 }), { message: /reward model/ });
  } finally {
    await runtime.release();
  }
});
