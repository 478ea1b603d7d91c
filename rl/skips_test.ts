import { deepStrictEqual as assertEquals, throws } from "node:assert";
import { DivergedError, SkipGuard } from "./skips.ts";

const detail = { loss: Number.NaN, gradNorm: Number.POSITIVE_INFINITY };

Deno.test("SkipGuard - K consecutive skips fail with an error naming the model and the step", () => {
  const guard = new SkipGuard("policy", 3);
  guard.record(true, 1, detail);
  guard.record(true, 2, detail);
  guard.record(false, 3, detail); // a trained step resets the run of skips
  guard.record(true, 4, detail);
  guard.record(true, 5, detail);
  assertEquals([guard.consecutive, guard.total], [2, 4]);
  throws(() => guard.record(true, 6, detail), (e: unknown) => {
    return e instanceof DivergedError && /policy update was skipped 3 steps in a row/.test(e.message) &&
      /step 6/.test(e.message);
  });
});

Deno.test("SkipGuard - the limit must be a positive integer", () => {
  throws(() => new SkipGuard("rm", 0), RangeError);
});
