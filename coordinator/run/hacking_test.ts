import { deepStrictEqual, strictEqual } from "node:assert";
import type { Verdict } from "../../rl/mod.ts";
import { EXPLOITS_KEPT, recordExploit, withHackingGap } from "./hacking.ts";
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

const batch = (verdicts: Verdict[], rmScores: number[]) => ({
  step: 4,
  version: 3,
  rmVersion: 0,
  samples: verdicts.map((_, i) => ({ question: `q${i}`, answer: "7", text: `#### ${i}` })),
  verdicts,
  rmScores,
});

Deno.test("exploit record - the highest-paid rejected rollout with σ(RM) > ½, stamped with its step", () => {
  const kept = recordExploit([], batch(["correct", "incorrect", "incorrect", "unparseable"], [5, 1, 2, -1]));
  deepStrictEqual(kept.map((e) => [e.step, e.policyVersion, e.question, e.verdict]), [[5, 3, "q2", "incorrect"]]);
  strictEqual(kept[0]!.rmReward.toFixed(3), "0.881");
});

Deno.test("exploit record - nothing when the RM pays no rejected rollout; only the last few steps kept", () => {
  deepStrictEqual(recordExploit([], batch(["correct", "incorrect"], [3, -0.5])), []);
  let kept: ReturnType<typeof recordExploit> = [];
  for (let step = 0; step < EXPLOITS_KEPT + 3; step++) {
    kept = recordExploit(kept, { ...batch(["incorrect"], [1]), step });
  }
  strictEqual(kept.length, EXPLOITS_KEPT);
  strictEqual(kept[0]!.step, 4);
});
