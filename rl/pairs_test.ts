import { deepStrictEqual as assertEquals, ok, throws } from "node:assert";
import { CharTokenizer } from "../engine/tokenizers/mod.ts";
import type { NegativeSynthesizer } from "./negatives.ts";
import { RuleNegativeSynthesizer } from "./negatives.ts";
import { bceLoss, buildPairs, formatRmInput, pairwiseLoss, sigmoid, softplus } from "./pairs.ts";
import { generateTasks, TASK_ALPHABET } from "./tasks/mod.ts";
import { verify } from "./verify/mod.ts";

function close(actual: number, expected: number, tol = 1e-12): void {
  ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
}

Deno.test("formatRmInput - reference last by default, next to the completion's final answer; the tags layout", () => {
  assertEquals(formatRmInput("q?", "7", "3+4=7. #### 7"), "q?\n3+4=7. #### 7\n<ref> #### 7");
  assertEquals(
    formatRmInput("q?", "7", "3+4=7. #### 7", "tags"),
    "<question>q?</question>\n<reference_answer>7</reference_answer>\n<completion>3+4=7. #### 7</completion>",
  );
});

Deno.test("buildPairs - positives from verified samples, negatives filtered by the verifier, groups masked", async () => {
  const groups = [
    { question: "a", reference: "7", responses: ["3+4=8. #### 8", "3+4=7. #### 7"] },
    { question: "b", reference: "5", responses: ["#### 4", "no answer"] }, // no positive
    { question: "c", reference: "6", responses: ["2*3=6. #### 6"] },
  ];
  const batch = await buildPairs(groups, { synthesizer: new RuleNegativeSynthesizer(), seed: 3 });
  assertEquals(batch.mask, [true, false, true]);
  assertEquals(batch.counts.groups, 3);
  assertEquals(batch.counts.valid, 2);
  assertEquals(batch.counts.noPositive, 1);
  assertEquals(batch.pairs.map((p) => [p.group, p.positiveIndex, p.positive]), [
    [0, 1, "3+4=7. #### 7"],
    [2, 0, "2*3=6. #### 6"],
  ]);
  for (const pair of batch.pairs) {
    ok(pair.negative !== pair.positive);
    assertEquals(
      pair.negativeInput,
      formatRmInput(groups[pair.group]!.question, groups[pair.group]!.reference, pair.negative),
    );
  }
  assertEquals(batch, await buildPairs(groups, { synthesizer: new RuleNegativeSynthesizer(), seed: 3 }));
});

Deno.test("buildPairs - policy negatives are the group's own wrong samples; both fills up with rewrites", async () => {
  const group = {
    question: "q",
    reference: "7",
    responses: ["3+4=7. #### 7", "3+4=8. #### 8", "3+4=8. #### 8", "3*4=12. #### 12"],
  };
  const synthesizer = new RuleNegativeSynthesizer();
  const policy = await buildPairs([group], { synthesizer, negatives: "policy", negativesPerPositive: 3 });
  // Distinct wrong samples only (the duplicate once), never a rewrite.
  assertEquals(policy.pairs.map((p) => p.negative).sort(), ["3*4=12. #### 12", "3+4=8. #### 8"]);
  ok(policy.pairs.every((p) => p.strategy === "policy" && p.positive === "3+4=7. #### 7"));
  const both = await buildPairs([group], { synthesizer, negatives: "both", negativesPerPositive: 3 });
  assertEquals(both.pairs.map((p) => p.strategy).filter((s) => s === "policy").length, 2);
  assertEquals(both.pairs.length, 3);
  ok(verify(both.pairs[2]!.negative, "7").verdict === "incorrect");
  // A group whose samples are all right has no policy negative: masked under `policy`, rewrites under `both`.
  const allRight = { question: "q", reference: "7", responses: ["3+4=7. #### 7"] };
  assertEquals((await buildPairs([allRight], { synthesizer, negatives: "policy" })).mask, [false]);
  assertEquals((await buildPairs([allRight], { synthesizer, negatives: "both" })).mask, [true]);
});

Deno.test("buildPairs - rewrites the verifier still accepts are rejected; failing synthesizers are counted", async () => {
  const sameAnswer: NegativeSynthesizer = {
    candidates: (input) => [{ text: `${input.response} (rephrased) #### ${input.reference}`, strategy: "answer-swap" }],
  };
  const group = { question: "q", reference: "7", responses: ["#### 7", "#### 7"] };
  const batch = await buildPairs([group], { synthesizer: sameAnswer });
  assertEquals(batch.mask, [false]);
  assertEquals(batch.counts.noValidNegative, 1);
  assertEquals(batch.counts.rejectedNegatives, 2); // one per positive tried
  const broken: NegativeSynthesizer = {
    candidates: () => Promise.reject(new Error("assistant actor died")),
  };
  const failed = await buildPairs([group], { synthesizer: broken });
  assertEquals(failed.counts.synthesizerErrors, 2);
  assertEquals(failed.mask, [false]);
});

Deno.test("buildPairs - uses given verdicts instead of re-verifying", async () => {
  const group = { question: "q", reference: "7", responses: ["#### 7"], verdicts: ["incorrect" as const] };
  const batch = await buildPairs([group], { synthesizer: new RuleNegativeSynthesizer() });
  assertEquals(batch.counts.noPositive, 1);
});

Deno.test("pairwiseLoss - mean(-log σ(s+ - s-)) over valid pairs, by hand", () => {
  close(pairwiseLoss([0], [0]), Math.log(2));
  close(pairwiseLoss([2, 0], [0, 1]), (-Math.log(sigmoid(2)) - Math.log(sigmoid(-1))) / 2);
  close(pairwiseLoss([2, 100], [0, -100], [true, false]), -Math.log(sigmoid(2)));
  assertEquals(pairwiseLoss([1], [2], [false]), 0);
  close(pairwiseLoss([1000], [-1000]), 0);
  close(pairwiseLoss([-1000], [1000]), 2000);
  throws(() => pairwiseLoss([1, 2], [1]), /2 positive scores, 1 negative scores/);
});

Deno.test("bceLoss - VerifyRM binary cross-entropy on logits, by hand", () => {
  close(bceLoss([0, 0], [1, 0]), Math.log(2));
  close(bceLoss([2], [1]), -Math.log(sigmoid(2)));
  close(bceLoss([2], [0]), -Math.log(1 - sigmoid(2)));
  close(bceLoss([3, -50], [0.5, 1], [true, false]), softplus(3) - 1.5);
  close(bceLoss([-800], [0]), 0);
  close(softplus(-800), 0);
  close(sigmoid(-800), 0);
});

Deno.test("buildPairs - several positives per group and several negatives per positive", async () => {
  const groups = [{ question: "a", reference: "9", responses: ["4+5=9. #### 9", "5+4=9. #### 9", "#### 8"] }];
  const one = await buildPairs(groups, { synthesizer: new RuleNegativeSynthesizer(), seed: 1 });
  assertEquals(one.pairs.length, 1);
  const many = await buildPairs(groups, {
    synthesizer: new RuleNegativeSynthesizer(),
    seed: 1,
    positivesPerGroup: 2,
    negativesPerPositive: 2,
  });
  assertEquals(many.pairs.length, 4);
  assertEquals(new Set(many.pairs.map((p) => p.positiveIndex)), new Set([0, 1]));
  for (const p of many.pairs) assertEquals(verify(p.negative, "9").verdict, "incorrect");
  assertEquals(many.counts.valid, 1);
});

Deno.test("TASK_ALPHABET - builds the engine's char tokenizer and round-trips RM inputs of generated tasks", () => {
  const tok = new CharTokenizer(TASK_ALPHABET);
  assertEquals(tok.vocabSize, TASK_ALPHABET.length + 3);
  for (const task of generateTasks(50, { levels: [1, 2, 3, 4, 5, 6], seed: 4 })) {
    const text = formatRmInput(task.question, task.answer, task.solution!);
    assertEquals(tok.decode(tok.encode(text)), text);
  }
});

Deno.test("buildPairs - repairs: (wrong sample repaired to the reference, wrong sample) pairs, as configured", async () => {
  const groups = [
    { question: "a", reference: "24", responses: ["15+9=14. #### 14", "15+9=14. #### 14", "no answer"] },
    { question: "b", reference: "7", responses: ["3+4=7. #### 7", "3+4=8. #### 8"] },
  ];
  const synthesizer = new RuleNegativeSynthesizer();
  const none = await buildPairs(groups, { synthesizer, seed: 1, negatives: "policy" });
  assertEquals(none.mask, [false, true]);
  assertEquals(none.counts.repaired, 0);
  const unpaired = await buildPairs(groups, { synthesizer, seed: 1, negatives: "policy", repairs: "unpaired" });
  assertEquals(unpaired.mask, [true, true]);
  assertEquals(unpaired.counts.noPositive, 1);
  // One pair for the distinct wrong answer with a `####` line; "no answer" has nothing to repair.
  const repaired = unpaired.pairs.filter((p) => p.positiveSource === "repaired");
  assertEquals(repaired.map((p) => [p.group, p.positive, p.negative]), [[0, "15+9=24. #### 24", "15+9=14. #### 14"]]);
  assertEquals(unpaired.counts.repaired, 1);
  const all = await buildPairs(groups, { synthesizer, seed: 1, negatives: "policy", repairs: "all" });
  assertEquals(all.counts.repaired, 2);
  assertEquals(
    all.pairs.filter((p) => p.group === 1).map((p) => [p.positive, p.negative, p.positiveSource ?? "sampled"]),
    [["3+4=7. #### 7", "3+4=8. #### 8", "sampled"], ["3+4=7. #### 7", "3+4=8. #### 8", "repaired"]],
  );
  for (const p of all.pairs) assertEquals(verify(p.positive, groups[p.group]!.reference).verdict, "correct");
});
