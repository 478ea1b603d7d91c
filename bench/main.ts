/**
 * `./coop bench <suite>`: a dispatch table of benchmark suites, each loaded lazily. Suites print a table and write
 * `bench/out/<suite>.json`; add yours to {@link SUITES}.
 */

/** Benchmark suites by name: each gets the arguments after the suite name. */
export const SUITES: Record<string, { summary: string; run: (args: string[]) => Promise<unknown> }> = {
  runtime: {
    summary: "actor call latency/throughput vs raw NATS, tensor MB/s (1, 16, 256 MiB) vs NATS and a copy, spawn ms",
    run: async (args) => (await import("./runtime.ts")).runRuntimeBench(args),
  },
  engine: {
    summary: "training step tok/s and MFU (tiny, small; 1 and 2 threads), generation with KV cache vs recompute",
    run: async (args) => (await import("./engine.ts")).runEngineBench(args),
  },
  weights: {
    summary: "weight versions (2 GiB fp32, 1 GiB bf16) to 1, 2, 4 consumers: shared memory vs memcpy, " +
      "peer-to-peer across netns hosts vs raw TCP, Object Store beside them (--size MiB for a quick run)",
    run: async (args) => (await import("./weights.ts")).runWeightsBench(args),
  },
  real: {
    summary:
      "Qwen2.5-0.5B shape: per-role peak RSS, load, learner/rollout tok/s, publish, vs PyTorch (--size mid|small)",
    run: async (args) => (await import("./real.ts")).runRealBench(args),
  },
  rl: {
    summary: "Cooper pipeline samples/s sync vs async (maxStaleness 0 vs 2), rollout tok/s with 1, 2, 4 actors",
    run: async (args) => (await import("./rl.ts")).runRlBench(args),
  },
  scale: {
    summary: "1,000 simulated nodes and 10,000 actors through the real coordinator and KV: spawn p50/p99, " +
      "placements/s vs raw KV puts/s, successor recovery (--quick: 50 nodes, 500 actors)",
    run: async (args) => (await import("./scale.ts")).runScaleBench(args),
  },
  verifier: {
    summary: "rule verifier verifs/s, p99 latency, timeout share on GSM8K+MATH-style responses vs the old verifier",
    run: async (args) => (await import("./verifier.ts")).runVerifierBench(args),
  },
};

if (import.meta.main) {
  const [suite, ...rest] = Deno.args;
  const entry = suite === undefined ? undefined : SUITES[suite];
  if (entry === undefined) {
    console.error(
      `usage: ./coop bench <suite>\n${
        Object.entries(SUITES).map(([k, v]) => `  ${k.padEnd(10)}${v.summary}`).join("\n")
      }`,
    );
    Deno.exit(2);
  }
  await entry.run(rest);
}
