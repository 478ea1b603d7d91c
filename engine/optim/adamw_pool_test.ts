import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { AdamWPool, splitRanges } from "./adamw_pool.ts";
import { type AdamWBuffers, adamwInPlace } from "./adamw_inplace.ts";

function filled(length: number, seed: number): Float32Array {
  const a = new Float32Array(length);
  for (let i = 0; i < length; i++) a[i] = Math.sin(seed * 1000 + i * 0.37) * (seed % 3 === 0 ? 1e-3 : 1);
  return a;
}

function state(lengths: number[]): AdamWBuffers[] {
  return lengths.map((n, i) => ({
    param: filled(n, 4 * i + 1),
    grad: filled(n, 4 * i + 2),
    m: filled(n, 4 * i + 3),
    v: filled(n, 4 * i + 4).map(Math.abs),
  }));
}

Deno.test("splitRanges - covers every element once, in balanced parts", () => {
  const lengths = [5, 0, 17, 3];
  for (const parts of [1, 2, 3, 7]) {
    const split = splitRanges(lengths, parts);
    const seen = lengths.map((n) => new Array(n).fill(0));
    for (const part of split) for (const [i, a, b] of part) for (let j = a; j < b; j++) seen[i]![j]++;
    ok(seen.every((s) => s.every((c) => c === 1)), `parts ${parts}: ${JSON.stringify(seen)}`);
    const sizes = split.map((p) => p.reduce((n, [, a, b]) => n + b - a, 0));
    ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `unbalanced: ${sizes}`);
  }
});

Deno.test("AdamWPool - split over workers gives the single-thread result bit for bit", async () => {
  // Tensors below 65,536 elements stay on the calling thread; the others are split over three threads.
  const lengths = [1001, 70_001, 7, 65_537, 3, 200_000];
  const step = { lr: 1e-2, step: 3, gradScale: 0.7 };
  const options = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
  const decays = (i: number) => i % 2 === 0;
  const pooled = state(lengths);
  const reference = state(lengths);
  reference.forEach((b, i) => adamwInPlace(b, step, { ...options, decays: decays(i) }));
  // Starting three workers took over 30 s once on 2 cores at load 14 (a plain-clone suite beside a weights bench):
  // this test checks the split, not the start-up bound, so it waits longer.
  const pool = new AdamWPool({ threads: 3, minParallel: 0, startTimeoutMs: 180_000 });
  try {
    await pool.update(pooled.map((buffers, i) => ({ buffers, decays: decays(i) })), step, options);
    ok(pool.broken === null && pool.lastThreads === 3, `pool fell back: ${pool.broken}, ${pool.lastThreads} threads`);
    for (let i = 0; i < lengths.length; i++) {
      for (const k of ["param", "m", "v"] as const) {
        deepStrictEqual(Array.from(pooled[i]![k]), Array.from(reference[i]![k]), `${k} of tensor ${i}`);
      }
    }
    // A second step over the same (registered) buffers.
    await pool.update(pooled.map((buffers, i) => ({ buffers, decays: decays(i) })), { ...step, step: 4 }, options);
    reference.forEach((b, i) => adamwInPlace(b, { ...step, step: 4 }, { ...options, decays: decays(i) }));
    deepStrictEqual(Array.from(pooled[5]!.param), Array.from(reference[5]!.param));
  } finally {
    await pool.close();
  }
});

Deno.test("AdamWPool - an idle pool that was never closed does not keep its process alive", async () => {
  const script = `
    import { AdamWPool } from ${JSON.stringify(new URL("./adamw_pool.ts", import.meta.url).href)};
    const mk = () => new Float32Array(100_000).fill(0.5);
    const buffers = { param: mk(), grad: mk(), m: mk(), v: mk() };
    const pool = new AdamWPool({ threads: 2, minParallel: 0 });
    await pool.update([{ buffers, decays: true }], { lr: 1e-3, step: 1, gradScale: 1 }, {});
    console.log(pool.lastThreads, buffers.param[0] === buffers.param[99_999] && buffers.param[0] !== 0.5);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  ok(out.success, `exit ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  strictEqual(text, "2 true");
});
