import { deepStrictEqual as assertEquals, throws } from "node:assert";
import { RuleNegativeSynthesizer } from "./negatives.ts";
import { BalancedSampler, buildLabelledSet, buildVerificationPairs, formatPrompt, promptMessages } from "./rm_data.ts";
import { generateTasks } from "./tasks/synthetic.ts";
import { verify } from "./verify/mod.ts";

const synthesizer = new RuleNegativeSynthesizer();

Deno.test("buildVerificationPairs - one verified pair per task with a solution", async () => {
  const tasks = generateTasks(20, { levels: [2], seed: 8 });
  const pairs = await buildVerificationPairs(tasks, { synthesizer, seed: 2 });
  assertEquals(pairs.length, 20);
  for (const p of pairs) assertEquals(verify(p.negative, tasks[p.group]!.answer).verdict, "incorrect");
  assertEquals(formatPrompt("q?"), "q?\n");
});

Deno.test("promptMessages - the question as the user turn, after an optional system prompt", () => {
  assertEquals(promptMessages("q?"), [{ role: "user", content: "q?" }]);
  assertEquals(promptMessages("q?", { systemPrompt: "Think step by step." }), [
    { role: "system", content: "Think step by step." },
    { role: "user", content: "q?" },
  ]);
});

Deno.test("buildLabelledSet - policy answers, the reference, verified rewrites and bare answers, verifier-labelled", async () => {
  const tasks = generateTasks(12, { levels: [2], seed: 3 });
  const sampled = tasks.map((task) => ({ task, samples: [task.solution!, "#### 0", "#### 0"] }));
  const items = await buildLabelledSet(sampled, { synthesizer, seed: 4 });
  for (const it of items) assertEquals(it.label, verify(it.completion, it.reference).verdict === "correct" ? 1 : 0);
  // Per task: the policy's right answer (= the reference, kept once), one wrong one (deduplicated), two rewrites.
  const first = items.filter((it) => it.question === tasks[0]!.question);
  assertEquals(first.filter((it) => it.source === "policy").length, 2);
  assertEquals(first.filter((it) => it.label === 0 && it.source !== "policy" && it.source !== "bare").length, 2);
  assertEquals(items, await buildLabelledSet(sampled, { synthesizer, seed: 4 }));
});

Deno.test("BalancedSampler - half positives, half negatives, deterministic", () => {
  const items = [
    ...Array.from({ length: 3 }, (_, i) => ({ id: i, label: 1 })),
    ...Array.from({ length: 9 }, (_, i) => ({ id: 10 + i, label: 0 })),
  ];
  const a = new BalancedSampler(items, 5);
  const batches = Array.from({ length: 4 }, () => a.next(6));
  for (const b of batches) assertEquals(b.map((x) => x.label), [1, 1, 1, 0, 0, 0]);
  const b = new BalancedSampler(items, 5);
  assertEquals(Array.from({ length: 4 }, () => b.next(6)), batches);
  throws(() => new BalancedSampler(items.filter((x) => x.label === 0), 1), RangeError);
});
