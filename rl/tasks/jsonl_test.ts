import { deepStrictEqual as assertEquals, rejects } from "node:assert";
import { DatasetError, describeLoad, loadJsonlTasks, parseJsonlTasks } from "./jsonl.ts";

const GSM8K = [
  `{"question": "Natalia sold 48 clips. How many?", "answer": "She sold 48/2 = <<48/2=24>>24.\\n#### 72"}`,
  ``,
  `{"question": "no answer marker", "answer": "just 5"}`,
  `not json at all`,
  `["an", "array"]`,
  `{"question": "", "answer": "#### 1"}`,
  `{"question": "q", "answer": "#### 1,000", "id": "gsm-7"}`,
  `{"question": "q2", "answer": "####   "}`,
  ``,
].join("\n");

Deno.test("parseJsonlTasks - gsm8k rows, malformed lines skipped with line numbers", () => {
  const { tasks, skipped } = parseJsonlTasks(GSM8K, "gsm8k", { source: "train.jsonl" });
  assertEquals(tasks, [
    {
      id: "train.jsonl:1",
      question: "Natalia sold 48 clips. How many?",
      answer: "72",
      solution: "She sold 48/2 = 24.\n#### 72",
    },
    { id: "gsm-7", question: "q", answer: "1,000", solution: "#### 1,000" },
  ]);
  assertEquals(skipped.map((s) => s.line), [3, 4, 5, 6, 8]);
  assertEquals(skipped[0]!.reason, `"answer" has no "#### <answer>" line`);
  assertEquals(skipped[1]!.reason.startsWith("invalid JSON"), true);
  assertEquals(skipped[2]!.reason, "expected a JSON object");
  assertEquals(
    describeLoad({ tasks, skipped }),
    `loaded 2 tasks, skipped 5 malformed lines (3, 4, 5, 6, 8; line 3: "answer" has no "#### <answer>" line)`,
  );
});

Deno.test("parseJsonlTasks - math rows take the last boxed answer (nested braces) or an answer field", () => {
  const text = [
    `{"problem": "p1", "solution": "first \\\\boxed{1} then $\\\\boxed{\\\\frac{1}{2}}$"}`,
    `{"problem": "p2", "solution": "no box"}`,
    `{"problem": "p3", "solution": "x", "answer": "7"}`,
    `{"problem": 3, "solution": "\\\\boxed{3}"}`,
    `{"problem": "p5", "solution": "\\\\boxed{3"}`,
  ].join("\r\n");
  const { tasks, skipped } = parseJsonlTasks(text, "math");
  assertEquals(tasks.map((t) => [t.id, t.question, t.answer]), [["math:1", "p1", "\\frac{1}{2}"], [
    "math:3",
    "p3",
    "7",
  ]]);
  assertEquals(skipped.map((s) => [s.line, s.reason]), [
    [2, `"solution" has no \\boxed{} answer`],
    [4, `"problem" must be a non-empty string`],
    [5, `"solution" has no \\boxed{} answer`],
  ]);
});

Deno.test("loadJsonlTasks - reads a file; a missing file is a DatasetError naming the path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/gsm.jsonl`;
    await Deno.writeTextFile(path, GSM8K);
    const loaded = await loadJsonlTasks(path, "gsm8k");
    assertEquals(loaded.tasks.length, 2);
    assertEquals(loaded.tasks[0]!.id, "gsm.jsonl:1");
    await rejects(loadJsonlTasks(`${dir}/missing.jsonl`, "math"), (error: unknown) => {
      return error instanceof DatasetError && error.message.includes(`Cannot read math dataset "${dir}/missing.jsonl"`);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
