import { deepStrictEqual as assertEquals } from "node:assert";
import { isStale } from "./staleness.ts";

Deno.test("isStale - lag beyond maxStaleness versions is stale; 0 means synchronous", () => {
  assertEquals(isStale(5, 5, 0), false);
  assertEquals(isStale(4, 5, 0), true);
  assertEquals(isStale(3, 5, 2), false);
  assertEquals(isStale(2, 5, 2), true);
});
