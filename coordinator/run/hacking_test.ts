import { deepStrictEqual, strictEqual } from "node:assert";
import { withHackingGap } from "./hacking.ts";
import type { MetricPoint } from "./job.ts";

const point = (step: number, rm?: number, accuracy?: number, alarm?: number): MetricPoint => ({
  step,
  time: step,
  ...(rm === undefined ? {} : { rm_reward_mean: rm }),
  ...(accuracy === undefined ? {} : { train_accuracy: accuracy }),
  ...(alarm === undefined ? {} : { hacking_alarm: alarm }),
});

Deno.test("hacking gap - σ(RM) minus verifier accuracy; the driver's alarm is kept as it is", () => {
  strictEqual(withHackingGap(point(1, 0.9, 0.4)).hacking_gap!.toFixed(2), "0.50");
  strictEqual(withHackingGap(point(2, 0.9, 0.4, 1)).hacking_alarm, 1);
  strictEqual(withHackingGap(point(3, 0.9, 0.4, 0)).hacking_alarm, 0);
});

Deno.test("hacking gap - points without RM reward or accuracy are left as they are", () => {
  for (const p of [point(1), point(1, 0.5), point(1, undefined, 0.5), point(1, Number.NaN, 0.5)]) {
    deepStrictEqual(withHackingGap(p), p);
  }
});
