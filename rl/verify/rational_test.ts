import { deepStrictEqual as assertEquals } from "node:assert";
import { divide, formatRational, parseDecimal, rational } from "./rational.ts";

Deno.test("rational - reduces and keeps the sign on the numerator", () => {
  assertEquals(rational(6n, -8n), { num: -3n, den: 4n });
  assertEquals(rational(1n, 0n), undefined);
});

Deno.test("parseDecimal - accepts plain literals only", () => {
  assertEquals(parseDecimal("3.50"), { num: 7n, den: 2n });
  assertEquals(parseDecimal("-.25"), { num: -1n, den: 4n });
  assertEquals(parseDecimal("+7"), { num: 7n, den: 1n });
  assertEquals(parseDecimal("."), undefined);
  assertEquals(parseDecimal("1e3"), undefined);
});

Deno.test("formatRational - integers, terminating decimals, else p/q", () => {
  assertEquals(formatRational({ num: -7n, den: 1n }), "-7");
  assertEquals(formatRational({ num: -1n, den: 8n }), "-0.125");
  assertEquals(formatRational({ num: 1n, den: 3n }), "1/3");
  assertEquals(formatRational(divide({ num: 1n, den: 1n }, { num: 40n, den: 1n })!), "0.025");
});
