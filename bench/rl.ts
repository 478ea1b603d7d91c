/**
 * `./coop bench rl`: the Cooper pipeline on a local cluster. (1) Samples/s and generated tokens/s of the same run
 * (same config, same number of samples) synchronous (`maxStaleness` 0) and asynchronous (`maxStaleness` 2). (2)
 * Rollout throughput (generated tokens/s) with 1, 2 and 4 rollout actors sampling the same prompts. Prints a table
 * and writes bench/out/rl.json with the keys `sync_samples_per_s`, `async_samples_per_s`, `async_speedup`,
 * `rollout_tok_s` ({"1", "2", "4"}), plus details.
 *
 * Models are the demo's tiny char-level Llamas, freshly initialised (throughput does not depend on what they know;
 * untrained policies rarely stop early, so every response runs to `maxNewTokens`).
 */
import { parseArgs } from "node:util";
import type { Cluster } from "../actors/core/cluster.ts";
import type { ActorHandle } from "../actors/core/handle.ts";
import { publishWeights, RolloutActor, tinyHfConfig } from "../actors/roles/mod.ts";
import { initWeights } from "../engine/models/mod.ts";
import { parseDecoderConfig } from "../engine/io/mod.ts";
import { startLocalCluster } from "../coordinator/local/mod.ts";
import { RunManager } from "../coordinator/run/manager.ts";
import { generateTasks, parseRunConfig } from "../rl/mod.ts";
import { printTable, writeBenchJson } from "./report.ts";

/** Runs the suite; returns the JSON written. */
export async function runRlBench(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({ args, options: { steps: { type: "string" }, quick: { type: "boolean" } } });
  const steps = Number(values.steps ?? (values.quick ? 4 : 12));
  const dir = await Deno.makeTempDir({ prefix: "coop-bench-rl-" });
  const local = await startLocalCluster({ agents: [{ nodeId: "bench", cpus: 16 }] });
  const manager = new RunManager(local.client);
  try {
    const pipeline: Record<string, { samplesPerS: number; tokensPerS: number; samples: number; seconds: number }> = {};
    for (const maxStaleness of [0, 2]) {
      const config = parseRunConfig({
        name: `bench-s${maxStaleness}`,
        mode: "cooper",
        steps,
        maxStaleness,
        data: { source: "builtin", levels: [1, 2], size: 500 },
        eval: { interval: 0, size: 8 },
        checkpoint: { dir: `${dir}/runs`, interval: 0 },
        grpo: { samplesPerPrompt: 4, promptsPerStep: 8, maxNewTokens: 24 },
        // One core for sampling and one for learning: on a 2-core machine that is the split where overlapping
        // the two (the asynchronous pipeline) has idle capacity to use.
        rollout: { count: 1, resources: { cpu: 1 } },
      });
      const status = manager.start(config);
      const final = await manager.wait(status.id);
      if (final.state !== "finished") throw new Error(`Benchmark run failed: ${final.error?.message}`);
      // Steady state: from the end of step 1 (sessions compiled, pipeline filling) to the end of the run.
      const metrics = manager.metrics(status.id);
      const first = metrics[0]!;
      const last = metrics.at(-1)!;
      const seconds = last.time - first.time;
      const perStep = final.accounting.trained / steps;
      const tokens = metrics.slice(1).reduce((n, p) => n + p.response_tokens! * perStep, 0);
      pipeline[maxStaleness === 0 ? "sync" : "async"] = {
        samplesPerS: (perStep * (steps - 1)) / seconds,
        tokensPerS: tokens / seconds,
        samples: final.accounting.trained,
        seconds,
      };
    }
    const rollout = await rolloutScaling(local.client, [1, 2, 4]);
    const sync = pipeline.sync!;
    const async = pipeline.async!;
    const result = {
      sync_samples_per_s: sync.samplesPerS,
      async_samples_per_s: async.samplesPerS,
      async_speedup: async.samplesPerS / sync.samplesPerS,
      sync_tokens_per_s: sync.tokensPerS,
      async_tokens_per_s: async.tokensPerS,
      samples_per_run: sync.samples,
      rollout_tok_s: Object.fromEntries(rollout.map((r) => [String(r.actors), r.tokS])),
    };
    printTable("Cooper pipeline (same samples; tiny char-level models)", [
      {
        pipeline: "sync (maxStaleness 0)",
        samples: sync.samples,
        "samples/s": sync.samplesPerS,
        "tok/s": sync.tokensPerS,
      },
      {
        pipeline: "async (maxStaleness 2)",
        samples: async.samples,
        "samples/s": async.samplesPerS,
        "tok/s": async.tokensPerS,
      },
    ]);
    console.log(`async speedup: ${result.async_speedup.toFixed(2)}x`);
    printTable(
      "Rollout throughput",
      rollout.map((r) => ({ "rollout actors": r.actors, tokens: r.tokens, "tok/s": r.tokS })),
    );
    const path = await writeBenchJson("rl", result);
    console.log(`wrote ${path}`);
    return result;
  } finally {
    await manager.close();
    await local.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Generated tokens/s of `k` rollout actors sampling the same 32 prompts × 4 samples, for each k. */
async function rolloutScaling(
  cluster: Cluster,
  counts: number[],
): Promise<{ actors: number; tokens: number; tokS: number }[]> {
  const model = { dModel: 64, nLayers: 2, nHeads: 4, dFF: 256, maxSeqLen: 128 };
  const hfConfig = tinyHfConfig(model, { classifier: false });
  const blobs = await cluster.transport.blobs(cluster.subjects.blobBucket);
  const prefix = `bench-rollout-${crypto.randomUUID().slice(0, 6)}`;
  await publishWeights(blobs, `${prefix}.v0`, initWeights(parseDecoderConfig(hfConfig), { seed: 0 }), 0);
  const tasks = generateTasks(32, { levels: [1, 2], seed: 5 });
  const out = [];
  for (const k of counts) {
    const actors: ActorHandle<RolloutActor>[] = await Promise.all(
      Array.from({ length: k }, () =>
        cluster.spawn(RolloutActor, { resources: { cpu: 1 } }, {
          hfConfig,
          tokenizer: "char",
          weights: { kind: "blob", name: `${prefix}.v0`, version: 0 },
        })),
    );
    try {
      const chunk = tasks.length / k;
      const call = (actor: ActorHandle<RolloutActor>, i: number) =>
        actor.rollout({
          version: 0,
          blobPrefix: prefix,
          prompts: tasks.slice(i * chunk, (i + 1) * chunk).map((t, j) => ({
            id: `b${i}.${j}`,
            question: t.question,
            answer: t.answer,
          })),
          samples: 4,
          maxNewTokens: 24,
          temperature: 1,
          seed: i,
        });
      await Promise.all(actors.map(call)); // warm-up: load weights, compile sessions
      const t0 = performance.now();
      const results = await Promise.all(actors.map(call));
      const seconds = (performance.now() - t0) / 1000;
      const tokens = results.flat().reduce((n, s) => n + s.responseIds.length, 0);
      out.push({ actors: k, tokens, tokS: tokens / seconds });
    } finally {
      await Promise.all(actors.map((a) => cluster.kill(a, { graceful: false }).catch(() => {})));
    }
  }
  return out;
}
