import { strictEqual, throws } from "node:assert";
import { budgetOf, VerifyTimeout } from "./budget.ts";
import { expressionsEqual, proportional } from "./equiv.ts";
import type { MathJson } from "./evaluate.ts";

const tol = { relativeTolerance: 1e-9, floatRounding: 6 };
const eq = (a: MathJson, b: MathJson) => expressionsEqual(a, b, tol, budgetOf(1000));

Deno.test("expressionsEqual - exact identities, float identities, decimals by rounding", () => {
  strictEqual(eq(["Power", ["Add", "x", 1], 2], ["Add", ["Power", "x", 2], ["Multiply", 2, "x"], 1]), true);
  strictEqual(eq(["Power", ["Add", "x", 1], 2], ["Add", ["Power", "x", 2], 1]), false);
  strictEqual(eq(["Add", ["Power", ["Sin", "x"], 2], ["Power", ["Cos", "x"], 2]], 1), true);
  strictEqual(eq({ num: "0.333333" }, ["Rational", 1, 3]), true);
  strictEqual(eq({ num: "0.3333" }, ["Rational", 1, 3]), false);
  // Exact rationals are never "close enough".
  strictEqual(eq({ num: "1000000001" }, 1000000000), false);
  strictEqual(eq(["Sqrt", ["Power", "x", 2]], "x"), false); // differs for negative x
  strictEqual(eq(["Ln", ["Power", "x", 2]], ["Multiply", 2, ["Ln", "x"]]), false); // defined on one side only
  strictEqual(eq(["f", "x"], ["f", "x"]), true); // structurally identical, though not evaluable
  strictEqual(eq(["f", "x"], ["g", "x"]), false);
});

Deno.test("proportional - equations up to a factor, inequalities up to a positive one", () => {
  const a: MathJson = ["Add", "x", "y", -2];
  const b: MathJson = ["Add", ["Multiply", -3, "x"], ["Multiply", -3, "y"], 6];
  strictEqual(proportional(a, b, false, tol, budgetOf(1000)), true);
  strictEqual(proportional(a, b, true, tol, budgetOf(1000)), false);
  strictEqual(proportional(a, ["Add", "x", "y", -3], false, tol, budgetOf(1000)), false);
});

Deno.test("expressionsEqual - a passed deadline throws VerifyTimeout", () => {
  throws(() => expressionsEqual(["Add", "x", 1], ["Add", 1, "x", 0], tol, budgetOf(-1)), VerifyTimeout);
});
