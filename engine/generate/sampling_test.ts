import { deepStrictEqual as assertEquals, ok, throws } from "node:assert";
import { Rng } from "../../shared/mod.ts";
import { argmax, checkSamplingOptions, sampleToken } from "./sampling.ts";

Deno.test("rng - same seed same stream, different seeds differ, uniform mean near 1/2", () => {
  const a = new Rng(42);
  const b = new Rng(42);
  const c = new Rng(43);
  const xs = Array.from({ length: 1000 }, () => a.next());
  assertEquals(xs, Array.from({ length: 1000 }, () => b.next()));
  ok(xs[0] !== c.next());
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  ok(xs.every((x) => x >= 0 && x < 1));
});

Deno.test("sampling - greedy takes the first maximum and reports its log-prob", () => {
  const row = [0, 2, 2, 1];
  assertEquals(argmax(row), 1);
  const out = sampleToken(row, new Rng(0));
  assertEquals(out.token, 1);
  const lse = Math.log(1 + 2 * Math.exp(2) + Math.exp(1));
  ok(Math.abs(out.logprob - (2 - lse)) < 1e-12);
});

Deno.test("sampling - frequencies follow softmax(logits / T)", () => {
  const row = [Math.log(0.5), Math.log(0.3), Math.log(0.2)];
  const rng = new Rng(7);
  const counts = [0, 0, 0];
  const n = 20000;
  for (let i = 0; i < n; i++) counts[sampleToken(row, rng, { temperature: 1 }).token]!++;
  [0.5, 0.3, 0.2].forEach((p, i) => ok(Math.abs(counts[i]! / n - p) < 0.015, `token ${i}: ${counts[i]! / n} vs ${p}`));
  const hot = sampleToken(row, new Rng(1), { temperature: 2 });
  const expected = row[hot.token]! / 2 - Math.log(row.reduce((s, x) => s + Math.exp(x / 2), 0));
  ok(Math.abs(hot.logprob - expected) < 1e-12);
});

Deno.test("sampling - top-k and top-p keep only the head and renormalise", () => {
  const row = [Math.log(0.05), Math.log(0.5), Math.log(0.3), Math.log(0.15)];
  const rng = new Rng(3);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const s = sampleToken(row, rng, { temperature: 1, topK: 2 });
    seen.add(s.token);
    const p = s.token === 1 ? 0.5 / 0.8 : 0.3 / 0.8;
    ok(Math.abs(s.samplingLogprob - Math.log(p)) < 1e-9);
    ok(Math.abs(s.logprob - row[s.token]!) < 1e-9);
  }
  assertEquals([...seen].sort(), [1, 2]);
  const nucleus = new Set<number>();
  for (let i = 0; i < 2000; i++) nucleus.add(sampleToken(row, rng, { temperature: 1, topP: 0.9 }).token);
  assertEquals([...nucleus].sort(), [1, 2, 3]);
  for (let i = 0; i < 100; i++) assertEquals(sampleToken(row, rng, { temperature: 1, topP: 0.01 }).token, 1);
});

Deno.test("sampling - invalid options are named", () => {
  throws(() => checkSamplingOptions({ temperature: -1 }), { name: "SamplingError", message: /temperature/ });
  throws(() => checkSamplingOptions({ topK: 1.5 }), { name: "SamplingError", message: /topK/ });
  throws(() => checkSamplingOptions({ topP: 0 }), { name: "SamplingError", message: /topP/ });
});

Deno.test("sampling - the probability-floor shortcut picks exactly what a full sort would", () => {
  const rng = new Rng(9);
  const vocab = 5000;
  // A peaked row (a few likely tokens) and a flat one (the floor cannot cover p, so the full sort runs).
  const peaked = Array.from({ length: vocab }, (_, i) => (i % 997 === 0 ? 8 : 0) + rng.normal());
  const flat = Array.from({ length: vocab }, () => 0.01 * rng.normal());
  for (const row of [peaked, flat]) {
    for (const options of [{ topK: 5 }, { topP: 0.9 }, { topK: 50, topP: 0.5 }, { topP: 0.999 }]) {
      const full = referenceSample(row, new Rng(3), { temperature: 0.8, ...options });
      const fast = sampleToken(row, new Rng(3), { temperature: 0.8, ...options });
      assertEquals(fast.token, full.token);
      ok(
        Math.abs(fast.samplingLogprob - full.samplingLogprob) < 1e-9,
        `${JSON.stringify(options)} ${row === flat} ${fast.samplingLogprob} ${full.samplingLogprob}`,
      );
    }
  }
});

/** Top-k/top-p by sorting the whole vocabulary (the definition the shortcut must match). */
function referenceSample(row: number[], rng: Rng, o: { temperature: number; topK?: number; topP?: number }) {
  let idx = row.map((_, i) => i).sort((a, b) => row[b]! - row[a]! || a - b);
  if (o.topK) idx = idx.slice(0, o.topK);
  const lse = (ids: number[]) => {
    const m = Math.max(...ids.map((i) => row[i]! / o.temperature));
    return m + Math.log(ids.reduce((s, i) => s + Math.exp(row[i]! / o.temperature - m), 0));
  };
  if (o.topP !== undefined) {
    const l = lse(idx);
    let cumulative = 0;
    let keep = 0;
    while (keep < idx.length) {
      cumulative += Math.exp(row[idx[keep]!]! / o.temperature - l);
      keep++;
      if (cumulative >= o.topP) break;
    }
    idx = idx.slice(0, keep);
  }
  const l = lse(idx);
  let u = rng.next();
  let token = idx[0]!;
  for (const i of idx) {
    u -= Math.exp(row[i]! / o.temperature - l);
    token = i;
    if (u < 0) break;
  }
  return { token, samplingLogprob: row[token]! / o.temperature - l };
}
