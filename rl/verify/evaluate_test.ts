import { deepStrictEqual as assertEquals, throws } from "node:assert";
import { evalExact, evalFloat, freeSymbols, literalRational, UnsupportedExpression } from "./evaluate.ts";

const r = (num: bigint, den = 1n) => ({ num, den });

Deno.test("literalRational - JSON numbers, decimal strings, repeating decimals, Rational", () => {
  assertEquals(literalRational(0.1), r(1n, 10n));
  assertEquals(literalRational({ num: "1.5e3" }), r(1500n));
  assertEquals(literalRational({ num: "0.(3)" }), r(1n, 3n));
  assertEquals(literalRational({ num: "-1.1(6)" }), r(-7n, 6n));
  assertEquals(literalRational(["Rational", 2, 6]), r(1n, 3n));
  assertEquals(literalRational(["Rational", 1, 0]), undefined);
  assertEquals(literalRational(Infinity), undefined);
  assertEquals(literalRational("x"), undefined);
});

Deno.test("evalExact - rational functions exactly; radicals only when exact; sizes capped", () => {
  const env = new Map([["x", r(7n, 3n)]]);
  // (x-2)(x+2) at 7/3 = 13/9
  assertEquals(evalExact(["Multiply", ["Add", "x", -2], ["Add", "x", 2]], env), r(13n, 9n));
  assertEquals(evalExact(["Divide", 1, ["Subtract", "x", "x"]], env), undefined);
  assertEquals(evalExact(["Sqrt", ["Rational", 9, 4]], env), r(3n, 2n));
  assertEquals(evalExact(["Sqrt", 2], env), undefined);
  assertEquals(evalExact(["Power", 2, -3], env), r(1n, 8n));
  assertEquals(evalExact(["Power", 10, 100000], env), undefined); // too many bits: left to the float path
  assertEquals(evalExact("Pi", env), undefined);
});

Deno.test("evalFloat - constants, real odd roots, domains, unknown heads", () => {
  const env = new Map([["x", -8]]);
  assertEquals(evalFloat(["Multiply", 2, "Pi"], env), 2 * Math.PI);
  assertEquals(evalFloat(["Root", "x", 3], env), -2);
  assertEquals(Number.isNaN(evalFloat(["Sqrt", "x"], env)), true);
  assertEquals(Number.isNaN(evalFloat(["Factorial", 500], env)), true);
  throws(() => evalFloat(["f", "x"], env), UnsupportedExpression);
  throws(() => evalFloat("y", env), UnsupportedExpression);
});

Deno.test("freeSymbols - variables only", () => {
  assertEquals([...freeSymbols(["Add", "x", ["Multiply", "Pi", "y"], "ExponentialE", "PositiveInfinity"])], ["x", "y"]);
});
