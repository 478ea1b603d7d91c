import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert";
import { RuleNegativeSynthesizer } from "./negatives.ts";
import { buildLabelledSet, buildVerificationPairs, formatPrompt, RmDataError } from "./rm_data.ts";
import { generateTasks } from "./tasks/synthetic.ts";
import { verify } from "./verifier.ts";

const synthesizer = new RuleNegativeSynthesizer();

Deno.test("buildLabelledSet - requested size and balance, labels from the verifier, deterministic", async () => {
  const tasks = generateTasks(100, { levels: [1, 2, 3], seed: 3 });
  const set = await buildLabelledSet(tasks, { size: 64, positiveFraction: 0.25, synthesizer, seed: 1 });
  assertEquals(set.length, 64);
  assertEquals(set.filter((x) => x.label === 1).length, 16);
  for (const item of set) {
    assertEquals(item.label, verify(item.completion, item.reference).verdict === "correct" ? 1 : 0);
    ok(item.input.startsWith(`<question>${item.question}</question>`));
  }
  assertEquals(set, await buildLabelledSet(tasks, { size: 64, positiveFraction: 0.25, synthesizer, seed: 1 }));
  await rejects(
    buildLabelledSet([{ id: "x", question: "q", answer: "1" }], { synthesizer }),
    RmDataError,
  );
});

Deno.test("buildVerificationPairs - one verified pair per task with a solution", async () => {
  const tasks = generateTasks(20, { levels: [2], seed: 8 });
  const pairs = await buildVerificationPairs(tasks, { synthesizer, seed: 2 });
  assertEquals(pairs.length, 20);
  for (const p of pairs) assertEquals(verify(p.negative, tasks[p.group]!.answer).verdict, "incorrect");
  assertEquals(formatPrompt("q?"), "q?\n");
});
