import { deepStrictEqual as assertEquals, ok } from "node:assert";
import { parseSteps, repairToReference, RuleNegativeSynthesizer } from "./negatives.ts";
import { Rng } from "../shared/mod.ts";
import { generateTasks } from "./tasks/synthetic.ts";
import { verify } from "./verify/mod.ts";

const input = (response: string, reference: string) => ({ question: "q", reference, response });

Deno.test("parseSteps - finds a op b = c with exact spans, including repeated digits", () => {
  const text = "3+3=6. 6*2=12. #### 12";
  const steps = parseSteps(text);
  assertEquals(steps.map((s) => [s.a, s.op, s.b, s.result]), [[3, "+", 3, 6], [6, "*", 2, 12]]);
  const [first] = steps;
  assertEquals(text.slice(...first!.spans.b), "3");
  assertEquals(first!.spans.b[0], 2);
  assertEquals(text.slice(...steps[1]!.spans.result), "12");
  assertEquals(parseSteps("so 10 - 4 = 6 and 2 x 3 = 6").map((s) => s.op), ["-", "*"]);
  assertEquals(parseSteps("no steps 1.5+2=3.5"), []);
});

Deno.test("RuleNegativeSynthesizer - each strategy rewrites consistently, by example", () => {
  const text = "3+4=7. 7*2=14. 14-5=9. #### 9";
  const only = (strategy: "final-slip" | "intermediate-slip" | "wrong-operation" | "drop-step" | "answer-swap") =>
    new RuleNegativeSynthesizer({ strategies: [strategy], maxSlip: 1 }).candidates(input(text, "9"), new Rng(4));
  const [finalSlip] = only("final-slip");
  ok(/^3\+4=7\. 7\*2=14\. 14-5=(8|10)\. #### (8|10)$/.test(finalSlip!.text), finalSlip!.text);
  assertEquals(finalSlip!.text.match(/=(\d+)\. ####/)![1], finalSlip!.text.match(/#### (\d+)/)![1]);
  const [drop] = only("drop-step");
  assertEquals(drop, { text: "3+4=7. 7*2=14. #### 14", strategy: "drop-step" });
  // A slip makes exactly one step wrong; a wrong operation none. Later steps chain from the changed number, and
  // the answer matches the last step.
  for (
    const [candidate, wrongSteps] of [[only("intermediate-slip")[0]!, 1], [only("wrong-operation")[0]!, 0]] as const
  ) {
    const steps = parseSteps(candidate.text);
    assertEquals(steps.length, 3);
    const wrong = steps.filter((s) => (s.op === "+" ? s.a + s.b : s.op === "-" ? s.a - s.b : s.a * s.b) !== s.result);
    assertEquals(wrong.length, wrongSteps, candidate.text);
    ok(wrong.every((s) => s !== steps[2]), candidate.text);
    for (let i = 1; i < steps.length; i++) assertEquals(steps[i]!.a, steps[i - 1]!.result, candidate.text);
    assertEquals(verify(candidate.text, "9").verdict, "incorrect", candidate.text);
    assertEquals(candidate.text.endsWith(`#### ${steps[2]!.result}`), true);
  }
  const [swap] = only("answer-swap");
  assertEquals(verify(swap!.text, "9").verdict, "incorrect");
});

Deno.test("RuleNegativeSynthesizer - free-form answers without steps get an answer swap", () => {
  const out = new RuleNegativeSynthesizer().candidates(input("I think the answer is 12.", "12"), new Rng(1));
  assertEquals(out.map((c) => c.strategy), ["answer-swap"]);
  assertEquals(verify(out[0]!.text, "12").verdict, "incorrect");
  assertEquals(new RuleNegativeSynthesizer().candidates(input("no idea", "12"), new Rng(1)), []);
});

Deno.test("RuleNegativeSynthesizer - deterministic by seed and valid for every built-in solution", () => {
  const synth = new RuleNegativeSynthesizer();
  let withValid = 0;
  const tasks = generateTasks(300, { levels: [1, 2, 3, 4], seed: 11 });
  for (const [i, task] of tasks.entries()) {
    const a = synth.candidates(input(task.solution!, task.answer), new Rng(i));
    assertEquals(a, synth.candidates(input(task.solution!, task.answer), new Rng(i)));
    if (a.some((c) => verify(c.text, task.answer).verdict === "incorrect")) withValid++;
    for (const c of a) ok(c.text !== task.solution);
  }
  assertEquals(withValid, tasks.length);
});

Deno.test("repairToReference - sets the final answer and the step result it copied to the reference", () => {
  assertEquals(repairToReference("15+9=14. #### 14", "24"), "15+9=24. #### 24");
  assertEquals(repairToReference("7*3=21. #### 211", "21"), "7*3=21. #### 21"); // the step was right
  assertEquals(repairToReference("1111112111. #### 1=", "1"), "1111112111. #### 1");
  assertEquals(repairToReference("no final line", "3"), undefined);
  assertEquals(repairToReference("2+1=3. #### 3", "3"), undefined); // nothing to repair
  for (const [wrong, ref] of [["15+9=14. #### 14", "24"], ["7-1=1. #### 1", "6"]]) {
    assertEquals(verify(repairToReference(wrong!, ref!)!, ref!).verdict, "correct");
  }
});
