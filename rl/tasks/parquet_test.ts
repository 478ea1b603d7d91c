import { deepStrictEqual as assertEquals, rejects } from "node:assert";
import { describeLoad } from "./jsonl.ts";
import { loadTaskFile } from "./load.ts";
import { loadVerlParquet, verlRow } from "./parquet.ts";

const SAMPLE = new URL("../../tests/fixtures/verl/gsm8k_sample.parquet", import.meta.url).pathname;

Deno.test("verl parquet - pyarrow-written rows become tasks; bad rows are named by row number", async () => {
  const loaded = await loadTaskFile(SAMPLE, "verl");
  assertEquals(loaded.tasks.map((t) => [t.id, t.answer]), [
    ["openai/gsm8k:0", "12"],
    ["openai/gsm8k:1", "10"],
    ["openai/gsm8k:2", "15"],
  ]);
  assertEquals(loaded.tasks[0]!.question.startsWith("Tom has 3 boxes of 4 apples. How many apples? Let's think"), true);
  // The worked solution (extra_info.answer) without GSM8K's calculator annotations, for SFT and RM pairs.
  assertEquals(loaded.tasks[0]!.solution, "3 boxes * 4 = 12 apples.\n#### 12");
  assertEquals(loaded.tasks[2]!.solution, undefined);
  assertEquals(loaded.skipped.map((s) => s.line), [3, 4]);
  assertEquals(
    describeLoad(loaded),
    `loaded 3 tasks, skipped 2 malformed rows (3, 4; row 3: "reward_model.ground_truth" must be a non-empty string)`,
  );
  assertEquals(loaded.skipped[1]!.reason, `"prompt" has no user message with text`);
});

Deno.test("verl parquet - a missing or non-parquet file is a DatasetError naming it", async () => {
  await rejects(loadVerlParquet("/nonexistent/train.parquet"), { name: "DatasetError", message: /train\.parquet/ });
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.parquet`, "not parquet at all");
    await rejects(loadVerlParquet(`${dir}/bad.parquet`), { name: "DatasetError", message: /bad\.parquet/ });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assertEquals(
    verlRow({ prompt: [], reward_model: { ground_truth: "1" } }, 0, "f"),
    `"prompt" must be a non-empty list of chat messages`,
  );
  assertEquals(
    verlRow({ prompt: [{ role: "user", content: "q" }], reward_model: { ground_truth: 7 } }, 5, "f.parquet"),
    { id: "f.parquet:5", question: "q", answer: "7" },
  );
});
