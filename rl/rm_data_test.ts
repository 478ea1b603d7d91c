import { deepStrictEqual as assertEquals } from "node:assert";
import { RuleNegativeSynthesizer } from "./negatives.ts";
import { buildVerificationPairs, formatPrompt, promptMessages } from "./rm_data.ts";
import { generateTasks } from "./tasks/synthetic.ts";
import { verify } from "./verifier.ts";

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
