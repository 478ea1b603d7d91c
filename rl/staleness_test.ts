import { deepStrictEqual as assertEquals, throws } from "node:assert";
import { isStale, partitionByStaleness } from "./staleness.ts";

Deno.test("isStale - lag beyond maxStaleness versions is stale; 0 means synchronous", () => {
  assertEquals(isStale(5, 5, 0), false);
  assertEquals(isStale(4, 5, 0), true);
  assertEquals(isStale(3, 5, 2), false);
  assertEquals(isStale(2, 5, 2), true);
});

Deno.test("partitionByStaleness - splits by version and refuses samples from the future", () => {
  const samples = [0, 1, 2, 3].map((v) => ({ id: `s${v}`, policyVersion: v }));
  const { fresh, stale } = partitionByStaleness(samples, 3, 1);
  assertEquals(fresh.map((s) => s.id), ["s2", "s3"]);
  assertEquals(stale.map((s) => s.id), ["s0", "s1"]);
  throws(() => partitionByStaleness(samples, 2, 1), /version 3 is newer than the learner's version 2/);
  throws(() => partitionByStaleness(samples, 3, -1), /Invalid maxStaleness -1/);
});
