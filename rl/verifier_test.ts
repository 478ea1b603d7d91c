import { deepStrictEqual as assertEquals } from "node:assert";
import { type AnswerSource, extractAnswer, normalizeAnswer, type Verdict, verify } from "./verifier.ts";

// [response, reference, expected verdict, expected canonical predicted answer (optional)]
const CASES: [string, string, Verdict, string?][] = [
  // GSM8K `####`
  ["3+4=7. #### 7", "7", "correct", "7"],
  ["#### 42", "42", "correct", "42"],
  ["so 40+2=42\n#### 42\n", "42", "correct"],
  ["#### 41", "42", "incorrect", "41"],
  ["#### 1,000", "1000", "correct", "1000"],
  ["#### 1000", "1,000", "correct"],
  ["#### 12,345,678", "12345678", "correct"],
  ["#### $18", "18", "correct", "18"],
  ["#### \\$18.00", "18", "correct", "18"],
  ["#### 18 dollars", "18", "correct"],
  ["#### 18 dollars.", "18", "correct"],
  ["#### -5", "-5", "correct", "-5"],
  ["#### −5", "-5", "correct"],
  ["#### 5", "-5", "incorrect"],
  ["#### 3.50", "3.5", "correct", "3.5"],
  ["#### .5", "0.5", "correct", "0.5"],
  ["#### 0.1", "1/10", "correct"],
  ["#### 7\nsome trailing text 99", "7", "correct"],
  ["first #### 3 then #### 8", "8", "correct"],
  ["#### 20 cm^2", "20", "correct"],
  ["#### 1,5", "15", "incorrect"],
  // \boxed
  ["The result is \\boxed{42}.", "42", "correct"],
  ["$\\boxed{\\frac{3}{4}}$", "0.75", "correct", "0.75"],
  ["\\boxed{\\dfrac{3}{4}}", "3/4", "correct"],
  ["\\boxed{\\tfrac{1}{3}}", "\\frac{1}{3}", "correct", "1/3"],
  ["\\boxed{\\frac12}", "0.5", "correct"],
  ["\\boxed{-\\frac{2}{3}}", "-2/3", "correct", "-2/3"],
  ["\\boxed{\\frac{-2}{3}}", "-\\frac{2}{3}", "correct"],
  ["\\boxed{\\frac{2}{-3}}", "-2/3", "correct"],
  ["\\boxed{\\frac{\\frac{1}{2}}{2}}", "1/4", "correct", "0.25"],
  ["first \\boxed{1} then \\boxed{2}", "2", "correct"],
  ["\\boxed{{5}}", "5", "correct"],
  ["\\boxed{50\\%}", "50", "correct"],
  ["\\boxed{50\\%}", "0.5", "correct"],
  ["\\boxed{45^\\circ}", "45", "correct"],
  ["\\boxed{45^{\\circ}}", "45", "correct"],
  ["\\boxed{\\text{5 apples}}", "5", "correct"],
  ["\\boxed{x = 5}", "5", "correct"],
  ["\\boxed{1{,}000}", "1000", "correct"],
  ["\\boxed{1\\,000}", "1000", "correct"],
  ["\\boxed{\\sqrt{2}}", "\\sqrt{2}", "correct", "\\sqrt{2}"],
  ["\\boxed{\\sqrt{2}}", "2", "incorrect"],
  ["\\boxed{(1, 2)}", "(1,2)", "correct"],
  ["\\boxed 7", "7", "correct"],
  ["\\boxed{3", "3", "correct"], // unbalanced: falls back to the last number
  ["\\boxed{}", "3", "unparseable"],
  // "the answer is"
  ["The answer is 12.", "12", "correct", "12"],
  ["So the answer is 3.5.", "3.5", "correct"],
  ["The final answer is: 9 apples, because 4+5=9", "9", "correct"],
  ["Answer: 8", "8", "correct"],
  ["**Answer:** 8", "8", "correct"],
  ["answer = 6", "6", "correct"],
  ["The answer is 5 apples and 2 pears", "5", "correct"],
  ["The answer is x = 4", "4", "correct"],
  ["The answer is 25%.", "0.25", "correct"],
  ["The answer is seven", "7", "incorrect"],
  // last-number fallback
  ["3 + 4 = 7", "7", "correct", "7"],
  ["she has 10 - 3 = 7 left", "7", "correct"],
  ["she has 10-3=7 left", "7", "correct"],
  ["it is 3/4 of the cake", "0.75", "correct", "0.75"],
  ["it is \\frac{3}{4} of the cake", "3/4", "correct"],
  ["the temperature is -3 degrees", "-3", "correct"],
  ["total 1,250 people", "1250", "correct"],
  ["values 3,4", "4", "correct"],
  ["about 2.5 hours", "5/2", "correct"],
  ["12 eggs and 5 eggs make 17.", "17", "correct"],
  ["12 eggs and 5 eggs make 16.", "17", "incorrect"],
  // unparseable responses
  ["", "7", "unparseable"],
  ["I don't know.", "7", "unparseable"],
  ["no digits here at all", "\\frac{1}{2}", "unparseable"],
  ["#### ", "7", "unparseable"],
  // odd references
  ["#### 7", "", "unparseable"],
  ["#### 7", "Natalia sold 48/2 = 24 clips.\n#### 7", "correct"],
  ["\\boxed{7}", "so \\boxed{7}", "correct"],
  ["#### 0", "0", "correct"],
  ["#### 1/0", "0", "incorrect", "1/0"],
  ["\\boxed{\\frac{x}{2}}", "\\frac{x}{2}", "correct"],
  ["#### 100000000000000000001", "100000000000000000001", "correct"],
  ["#### 100000000000000000001", "100000000000000000000", "incorrect"],
  ["#### 0.30", "0.3", "correct"],
  ["#### 0.1", "0.10000000000000001", "incorrect"],
];

Deno.test("verify - table of responses and references", () => {
  let counted = 0;
  for (const [response, reference, expected, predicted] of CASES) {
    const result = verify(response, reference);
    assertEquals(result.verdict, expected, `${JSON.stringify(response)} vs ${JSON.stringify(reference)}`);
    if (predicted !== undefined) assertEquals(result.predicted, predicted, JSON.stringify(response));
    counted++;
  }
  assertEquals(counted >= 60, true);
});

Deno.test("verify - never throws on hostile input", () => {
  const hostile: unknown[] = [null, undefined, 42, {}, "\\boxed{".repeat(1000), "#".repeat(10000), "9".repeat(5000)];
  for (const input of hostile) {
    const result = verify(input as string, "1");
    assertEquals(typeof result.verdict, "string");
    const reversed = verify("1", input as string);
    assertEquals(typeof reversed.verdict, "string");
  }
  assertEquals(verify(null as unknown as string, "1").verdict, "unparseable");
});

Deno.test("verify - unparseable results carry a reason", () => {
  assertEquals(verify("nothing", "1").reason, "no answer found");
  assertEquals(verify("#### 1", "  ").reason, "reference answer is empty");
});

Deno.test("extractAnswer - priority is ####, boxed, answer-is, last number", () => {
  const cases: [string, string, AnswerSource][] = [
    ["\\boxed{1} #### 2", "2", "hashes"],
    ["The answer is 3. \\boxed{4}", "4", "boxed"],
    ["5 then the answer is 6, not 7", "6, not 7", "answer-is"],
    ["8 and 9", "9", "last-number"],
    ["half is 1/2", "0.5", "last-number"],
    ["rate 30 %", "30%", "last-number"],
  ];
  for (const [response, text, source] of cases) assertEquals(extractAnswer(response), { text, source });
  assertEquals(extractAnswer("no numbers"), undefined);
});

Deno.test("normalizeAnswer - canonical forms", () => {
  assertEquals(normalizeAnswer("$1,234.50$"), {
    kind: "number",
    value: { num: 2469n, den: 2n },
    percent: false,
    canonical: "1234.5",
  });
  assertEquals(normalizeAnswer("\\frac{2}{6}")?.canonical, "1/3");
  assertEquals(normalizeAnswer("12%")?.kind === "number" && normalizeAnswer("12%"), {
    kind: "number",
    value: { num: 12n, den: 1n },
    percent: true,
    canonical: "12",
  });
  assertEquals(normalizeAnswer("x^2 + 1"), { kind: "text", canonical: "x^2+1" });
  assertEquals(normalizeAnswer("   "), undefined);
});
