/** Pure pieces of the run driver and demo: data order, chunking, checkpoint JSON, the results table. */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { loadDriverState } from "../../coordinator/run/checkpoint.ts";
import { loadRunData, tasksForStep, verificationPairs } from "../../coordinator/run/data.ts";
import { movingAverage, resultsTable, summarize } from "../../coordinator/run/demo.ts";
import { emptyAccounting, type MetricPoint, type RunStatus } from "../../coordinator/run/job.ts";
import { split } from "../../coordinator/run/rollouts.ts";
import { verify } from "../../rl/mod.ts";

Deno.test("loadRunData - built-in data is deterministic and the held-out set excludes training questions", async () => {
  const a = await loadRunData({ source: "builtin", levels: [1, 2], seed: 0, size: 200 }, { size: 32, seed: 9 }, 5);
  const b = await loadRunData({ source: "builtin", levels: [1, 2], seed: 0, size: 200 }, { size: 32, seed: 9 }, 5);
  deepStrictEqual(a, b);
  const train = new Set(a.train.map((t) => t.question));
  ok(a.eval.every((t) => !train.has(t.question)));
  strictEqual(a.eval.length, 32);
});

Deno.test("loadRunData - a JSONL file with malformed lines is loaded with notes naming them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = [
      JSON.stringify({ question: "what is 2+2?", answer: "2+2=4 #### 4" }),
      "{not json",
      JSON.stringify({ question: "what is 3+3?", answer: "#### 6" }),
      ...Array.from({ length: 10 }, (_, i) => JSON.stringify({ question: `q${i}?`, answer: `#### ${i}` })),
    ];
    await Deno.writeTextFile(`${dir}/train.jsonl`, lines.join("\n"));
    const data = await loadRunData({ source: "gsm8k", path: `${dir}/train.jsonl` }, { size: 2, seed: 0 }, 0);
    strictEqual(data.train.length + data.eval.length, 12);
    ok(data.notes.some((n) => n.includes("2")), data.notes.join("; "));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tasksForStep and split - cycle through the data; chunks cover every item once", () => {
  const tasks = Array.from({ length: 5 }, (_, i) => ({ id: `t${i}`, question: `q${i}`, answer: "1" }));
  deepStrictEqual(tasksForStep(tasks, 1, 3).map((t) => t.id), ["t3", "t4", "t0"]);
  deepStrictEqual(split([1, 2, 3, 4, 5], 2), [[1, 2, 3], [4, 5]]);
  deepStrictEqual(split([1, 2], 4), [[1], [2]]);
});

Deno.test("verificationPairs - positives are correct and negatives verified wrong", async () => {
  const data = await loadRunData({ source: "builtin", levels: [1, 2], seed: 0, size: 50 }, { size: 40, seed: 3 }, 0);
  const pairs = await verificationPairs(data.eval, 0);
  ok(pairs.length > 30);
  for (const p of pairs) {
    strictEqual(verify(p.positive, p.reference).verdict, "correct");
    strictEqual(verify(p.negative, p.reference).verdict, "incorrect");
  }
});

Deno.test("loadDriverState - non-finite numbers survive; a foreign file is a clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/driver.json`,
      JSON.stringify({ format: 1, nextStep: 2, pending: [{ rmScores: [{ $num: "NaN" }, 1] }] }),
    );
    const state = await loadDriverState(dir);
    ok(Number.isNaN(state.pending[0]!.rmScores[0]));
    await Deno.writeTextFile(`${dir}/driver.json`, JSON.stringify({ hello: 1 }));
    await rejects(loadDriverState(dir), /not a Coop checkpoint/);
    await rejects(loadDriverState(`${dir}/missing`), /Cannot resume from/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo summary - final eval, tail-mean RM reward, table text", () => {
  const metrics: MetricPoint[] = [
    { step: 0, time: 0, eval_accuracy: 0.5, rm_pair_accuracy: 0.6 },
    ...Array.from({ length: 8 }, (_, i) => ({ step: i + 1, time: i + 1, rm_reward_mean: i < 6 ? 0 : 1 })),
    { step: 8, time: 9, eval_accuracy: 0.25, rm_pair_accuracy: 0.75 },
  ];
  const status = { accounting: emptyAccounting() } as RunStatus;
  const result = summarize("cooper", metrics, status, 12.4);
  strictEqual(result.finalAccuracy, 0.25);
  strictEqual(result.lastKAccuracy, 0.375); // the mean of the two evaluations (fewer than LAST_K)
  strictEqual(result.rmPairAccuracy, 0.75);
  strictEqual(result.meanRmReward, 1); // the last quarter of the points (3): RM rewards 1, 1 and none
  const table = resultsTable([result]);
  ok(table.includes("cooper") && table.includes("25.0%") && table.includes("12 s"), table);
  deepStrictEqual(movingAverage([[1, 0], [2, 2], [3, 4]], 2), [[1, 0], [2, 1], [3, 3]]);
});
