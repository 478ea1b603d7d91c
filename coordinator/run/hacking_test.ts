import { deepStrictEqual, strictEqual } from "node:assert";
import { HACKING_THRESHOLD, withHackingSignal } from "./hacking.ts";
import type { MetricPoint } from "./job.ts";

const point = (step: number, rm?: number, accuracy?: number): MetricPoint => ({
  step,
  time: step,
  ...(rm === undefined ? {} : { rm_reward_mean: rm }),
  ...(accuracy === undefined ? {} : { train_accuracy: accuracy }),
});

Deno.test("hacking signal - the gap per step, the alarm only after a sustained gap", () => {
  const history: MetricPoint[] = [];
  const alarms: number[] = [];
  for (const [rm, accuracy] of [[0.5, 0.5], [0.9, 0.4], [0.95, 0.3], [0.95, 0.2], [0.6, 0.55]]) {
    const next = withHackingSignal(point(history.length + 1, rm, accuracy), history);
    history.push(next);
    alarms.push(next.hacking_alarm!);
  }
  strictEqual(history[1]!.hacking_gap!.toFixed(2), "0.50");
  // Mean gaps over 3 steps: (0+0.5+0.65)/3 = 0.38 > threshold at step 3; one good step does not clear it at once.
  deepStrictEqual(alarms, [0, 0, 1, 1, 1]);
  strictEqual(HACKING_THRESHOLD, 0.3);
});

Deno.test("hacking signal - points without RM reward or accuracy are left as they are", () => {
  for (const p of [point(1), point(1, 0.5), point(1, undefined, 0.5), point(1, Number.NaN, 0.5)]) {
    deepStrictEqual(withHackingSignal(p, []), p);
  }
});
