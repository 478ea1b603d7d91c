import { deepStrictEqual as assertEquals, ok } from "node:assert";
import { CASES } from "./cases.ts";
import { type AnswerSource, extractAnswer, normalizeAnswer, verify, VERIFY_DEFAULTS } from "./verifier.ts";

Deno.test("verify - the table, class by class, with no false positives", async (t) => {
  let rows = 0;
  for (const [group, cases] of Object.entries(CASES)) {
    await t.step(group, () => {
      const failures: string[] = [];
      for (const [response, reference, expected, reason] of cases) {
        const result = verify(response, reference);
        if (result.verdict !== expected) {
          failures.push(
            `${JSON.stringify(response)} vs ${JSON.stringify(reference)}: ${result.verdict}, ` +
              `expected ${expected} (${reason}) [${result.predicted} | ${result.reference} | ${result.reason ?? ""}]`,
          );
        }
        rows++;
      }
      assertEquals(failures, []);
    });
  }
  ok(rows >= 300, `only ${rows} rows`);
});

Deno.test("verify - every reference equals itself", () => {
  for (const cases of Object.values(CASES)) {
    for (const [, reference] of cases) {
      if (reference.trim() === "") continue;
      assertEquals(verify(reference, reference).verdict, "correct", reference);
      if (/####|\n|boxed|answer/.test(reference)) continue;
      assertEquals(verify(`Solution.\n\\boxed{${reference}}`, reference).verdict, "correct", reference);
    }
  }
});

Deno.test("verify - never throws on hostile input", () => {
  const hostile: unknown[] = [null, undefined, 42, {}, "\\boxed{".repeat(1000), "#".repeat(10000), "9".repeat(5000)];
  for (const input of hostile) {
    assertEquals(typeof verify(input as string, "1").verdict, "string");
    assertEquals(typeof verify("1", input as string).verdict, "string");
  }
  assertEquals(verify(null as unknown as string, "1").verdict, "unparseable");
});

Deno.test("verify - unparseable results carry a reason", () => {
  assertEquals(verify("", "1").reason, "no answer found");
  assertEquals(verify("#### 1", "  ").reason, "reference answer is empty");
  ok(verify("\\boxed{\\frac{1}{", "1").verdict !== "correct");
});

Deno.test("verify - tolerance options", () => {
  assertEquals(verify("\\boxed{0.33}", "\\frac13").verdict, "incorrect");
  assertEquals(verify("\\boxed{0.33}", "\\frac13", { floatRounding: 2 }).verdict, "correct");
  assertEquals(verify("\\boxed{3.1416}", "\\pi").verdict, "incorrect");
  assertEquals(verify("\\boxed{3.1416}", "\\pi", { floatRounding: 4 }).verdict, "correct");
  // Exact rationals are exact whatever the tolerance.
  assertEquals(verify("#### 1000001", "1000000", { relativeTolerance: 1e-3 }).verdict, "incorrect");
  assertEquals(verify("\\boxed{\\sqrt{2}+10^{-8}}", "\\sqrt2").verdict, "incorrect");
  assertEquals(verify("\\boxed{\\sqrt{2}+10^{-8}}", "\\sqrt2", { relativeTolerance: 1e-6 }).verdict, "correct");
  assertEquals(VERIFY_DEFAULTS.floatRounding, 6);
});

Deno.test("verify - a deadline turns into an unparseable verdict, not a hang", () => {
  const slow = verify("\\boxed{(x+1)^2}", "x^2+2x+1", { timeoutMs: -1 });
  assertEquals(slow.verdict, "unparseable");
  assertEquals(slow.timedOut, true);
});

Deno.test("extractAnswer - priority is ####, boxed, answer-is, final line", () => {
  const cases: [string, string, AnswerSource][] = [
    ["\\boxed{1} #### 2", "2", "hashes"],
    ["The answer is 3. \\boxed{4}", "4", "boxed"],
    ["5 then the answer is 6, not 7", "6, not 7", "answer-is"],
    ["8 and 9", "9", "final-line"],
    ["work\nhalf is $1/2$ here", "1/2", "final-line"],
    ["the set is (1, 2).", "(1, 2)", "final-line"],
    ["x = 5", "x = 5", "final-line"],
  ];
  for (const [response, text, source] of cases) assertEquals(extractAnswer(response), { text, source });
  assertEquals(extractAnswer(""), undefined);
  assertEquals(extractAnswer("\\boxed{\\frac{1}{2}}")?.text, "\\frac{1}{2}");
});

Deno.test("normalizeAnswer - typed answers and canonical forms", () => {
  assertEquals(normalizeAnswer("$1,234.50$")?.canonical, "1234.5");
  assertEquals(normalizeAnswer("\\frac{2}{6}")?.canonical, "1/3");
  assertEquals(normalizeAnswer("12\\%")?.canonical, "12%");
  assertEquals(normalizeAnswer("[0,1)")?.answer.kind, "interval");
  assertEquals(normalizeAnswer("\\{1,2\\}")?.answer.kind, "set");
  assertEquals(normalizeAnswer("(1,2)")?.answer.kind, "tuple");
  assertEquals(normalizeAnswer("1, 2")?.answer.kind, "list");
  assertEquals(normalizeAnswer("x \\le 2")?.answer.kind, "relation");
  assertEquals(normalizeAnswer("x = 2")?.answer.kind, "assign");
  assertEquals(normalizeAnswer("\\text{(B)}")?.answer, { kind: "text", text: "(B)" });
  assertEquals(normalizeAnswer("   "), undefined);
});
