import { deepStrictEqual as assertEquals, ok, throws } from "node:assert";
import { verify } from "../verify/mod.ts";
import { generateTasks, MAX_LEVEL, TASK_ALPHABET, TaskGenerationError } from "./synthetic.ts";

Deno.test("generateTasks - deterministic by seed, and n tasks are a prefix of n+k", () => {
  const a = generateTasks(20, { levels: [1, 2, 3], seed: 5 });
  assertEquals(a, generateTasks(20, { levels: [1, 2, 3], seed: 5 }));
  assertEquals(generateTasks(30, { levels: [1, 2, 3], seed: 5 }).slice(0, 20), a);
  ok(JSON.stringify(a) !== JSON.stringify(generateTasks(20, { levels: [1, 2, 3], seed: 6 })));
});

Deno.test("generateTasks - every solution verifies against its answer and the arithmetic holds", () => {
  for (let level = 1; level <= MAX_LEVEL; level++) {
    for (const task of generateTasks(200, { levels: [level], seed: level })) {
      assertEquals(task.level, level);
      assertEquals(verify(task.solution!, task.answer).verdict, "correct", task.solution);
      const steps = task.solution!.match(/\d+[-+*]\d+=\d+/g) ?? [];
      assertEquals(steps.length, Math.max(1, level - 1), task.solution);
      for (const step of steps) {
        const [, a, op, b, r] = /(\d+)([-+*])(\d+)=(\d+)/.exec(step)!;
        const value = op === "+" ? +a! + +b! : op === "-" ? +a! - +b! : +a! * +b!;
        assertEquals(value, +r!, task.solution);
      }
      ok(Number(task.answer) >= 0);
    }
  }
});

Deno.test("generateTasks - level 1 is one small addition; text stays short and within the alphabet", () => {
  const alphabet = new Set(TASK_ALPHABET);
  for (const task of generateTasks(300, { levels: [1, 2, 3, 4], seed: 9 })) {
    for (const ch of task.question + task.solution + task.answer) ok(alphabet.has(ch), `${JSON.stringify(ch)}`);
    ok(task.question.length <= 110, task.question);
    if (task.level === 1) {
      ok(/^\d\+\d=\d+\. #### \d+$/.test(task.solution!), task.solution);
      ok(Number(task.answer) <= 18);
    }
  }
  const example = generateTasks(1, { seed: 1 })[0]!;
  ok(/^[a-z]+ has \d apples?|[a-z]+ has \d [a-z]+s and gets \d more\. how many [a-z]+s\?$/.test(example.question));
});

Deno.test("generateTasks - exclude yields a disjoint held-out set", () => {
  const train = generateTasks(100, { levels: [1], seed: 1 });
  const held = generateTasks(50, { levels: [1], seed: 2, exclude: new Set(train.map((t) => t.question)) });
  const seen = new Set(train.map((t) => t.question));
  for (const task of held) ok(!seen.has(task.question));
});

Deno.test("generateTasks - bad requests raise TaskGenerationError naming the problem", () => {
  throws(() => generateTasks(3, { levels: [0] }), TaskGenerationError);
  throws(() => generateTasks(3, { levels: [MAX_LEVEL + 1] }), /levels run from 1 to/);
  throws(() => generateTasks(-1), /non-negative integer/);
  throws(() => generateTasks(2, { levels: [] }), /levels is empty/);
});
