import { deepStrictEqual as assertEquals, ok, throws } from "node:assert";
import { HackingMonitor, MonitorError, slope } from "./monitor.ts";

const options = { window: 4, threshold: 0.05, agreement: 0.8 };

function feed(monitor: HackingMonitor, rows: [number, number, number][]) {
  return rows.map(([rmReward, verifierAccuracy, agreement], i) =>
    monitor.observe({ step: i + 1, rmVersion: i, rmReward, verifierAccuracy, agreement })
  );
}

Deno.test("slope - least squares over finite points", () => {
  assertEquals(slope([[0, 1], [1, 3], [2, 5]]), 2);
  assertEquals(slope([[0, 1], [1, Number.NaN], [2, 5]]), 2);
  ok(Number.isNaN(slope([[1, 1]])));
  ok(Number.isNaN(slope([[1, 1], [1, 2]])));
});

Deno.test("HackingMonitor - alarm when RM reward rises while verifier accuracy falls over the window", () => {
  const readings = feed(new HackingMonitor(options), [
    [0.6, 0.6, 0.9],
    [0.65, 0.5, 0.8],
    [0.7, 0.4, 0.6],
    [0.75, 0.3, 0.5],
    [0.8, 0.2, 0.4],
  ]);
  // No trend (and no alarm) before a full window.
  for (const r of readings.slice(0, 3)) {
    ok(Number.isNaN(r.rm_reward_trend));
    assertEquals(r.hacking_alarm, 0);
  }
  // Over 4 steps: RM reward +0.15, verifier accuracy −0.3.
  ok(Math.abs(readings[3]!.rm_reward_trend - 0.15) < 1e-9);
  ok(Math.abs(readings[3]!.verifier_accuracy_trend + 0.3) < 1e-9);
  assertEquals(readings.map((r) => r.hacking_alarm), [0, 0, 0, 1, 1]);
  assertEquals(readings[4]!.rm_verifier_agreement, 0.4);
});

Deno.test("HackingMonitor - no alarm when both rise, both fall, or the change is under the threshold", () => {
  const cases: [number, number, number][][] = [
    [[0.5, 0.5, 1], [0.6, 0.6, 1], [0.7, 0.7, 1], [0.8, 0.8, 1]], // learning: both rise
    [[0.8, 0.8, 1], [0.7, 0.7, 1], [0.6, 0.6, 1], [0.5, 0.5, 1]], // both fall
    [[0.6, 0.6, 1], [0.61, 0.59, 1], [0.62, 0.58, 1], [0.63, 0.57, 1]], // parting, but by 0.03 < 0.05
  ];
  for (const rows of cases) {
    const m = new HackingMonitor(options);
    assertEquals(feed(m, rows).map((r) => r.hacking_alarm), [0, 0, 0, 0]);
    assertEquals(m.alarms, 0);
  }
});

Deno.test("HackingMonitor - remembers the last RM version that agreed with the verifier", () => {
  const m = new HackingMonitor(options);
  assertEquals(m.lastAgreeingRmVersion, undefined);
  feed(m, [[0.5, 0.5, 0.9], [0.5, 0.5, 0.85], [0.5, 0.5, 0.5], [0.5, 0.5, Number.NaN]]);
  assertEquals(m.lastAgreeingRmVersion, 1);
});

Deno.test("HackingMonitor - state round trip continues the same window", () => {
  const rows: [number, number, number][] = [[0.6, 0.6, 0.9], [0.65, 0.5, 0.8], [0.7, 0.4, 0.6], [0.75, 0.3, 0.5]];
  const a = new HackingMonitor(options);
  feed(a, rows.slice(0, 3));
  const b = new HackingMonitor(options);
  b.restore(a.toState());
  const next = { step: 4, rmVersion: 3, rmReward: 0.75, verifierAccuracy: 0.3, agreement: 0.5 };
  assertEquals(b.observe(next), a.observe(next));
  assertEquals(b.alarms, 1);
});

Deno.test("HackingMonitor - bad options are typed errors", () => {
  throws(() => new HackingMonitor({ ...options, window: 1 }), MonitorError);
  throws(() => new HackingMonitor({ ...options, threshold: -1 }), MonitorError);
});

Deno.test("HackingMonitor - the drift test fires on a frozen RM's slow slide that the trend test misses", async () => {
  // Real curves: seed 1 of the last three-seed demo, where static-rm fell from 75.0% to 38.3% held-out while its
  // mean σ(RM) barely moved (the fixture names its source).
  const curves = JSON.parse(
    await Deno.readTextFile(new URL("../tests/fixtures/monitor/seed1_curves.json", import.meta.url)),
  ) as Record<string, { rmReward: number[]; verifierAccuracy: number[] }>;
  const alarms = (mode: string, test: "trend" | "drift" | "both") => {
    const monitor = new HackingMonitor({ window: 10, threshold: 0.05, agreement: 0.8, test });
    const { rmReward, verifierAccuracy } = curves[mode]!;
    const readings = rmReward.map((r, i) =>
      monitor.observe({ step: i + 1, rmVersion: 0, rmReward: r, verifierAccuracy: verifierAccuracy[i]!, agreement: 1 })
    );
    return { count: monitor.alarms, first: readings.findIndex((r) => r.hacking_alarm === 1) + 1 };
  };
  const slide = alarms("static-rm", "drift");
  ok(slide.count >= 40, `drift alarms on static-rm: ${slide.count}`);
  ok(slide.first > 0 && slide.first <= 40, `first drift alarm at step ${slide.first}`);
  ok(alarms("static-rm", "trend").count <= 10, "the trend test alone barely sees it");
  ok(alarms("rule", "drift").count <= 8, `drift alarms on rule: ${alarms("rule", "drift").count}`);
  assertEquals(alarms("static-rm", "both").count >= slide.count, true);
});

Deno.test("HackingMonitor - drift is measured from the first full window and survives a state round trip", () => {
  const rows: [number, number, number][] = [
    ...Array.from({ length: 4 }, () => [0.6, 0.6, 0.9] as [number, number, number]),
    ...Array.from({ length: 4 }, () => [0.6, 0.4, 0.9] as [number, number, number]),
  ];
  const monitor = new HackingMonitor({ ...options, test: "drift" });
  const readings = feed(monitor, rows);
  for (const r of readings.slice(0, 7)) ok(Number.isNaN(r.rm_overpay_drift));
  ok(Math.abs(readings[7]!.rm_overpay_drift - 0.2) < 1e-9);
  ok(Math.abs(readings[7]!.verifier_accuracy_drift + 0.2) < 1e-9);
  assertEquals(readings.map((r) => r.hacking_alarm), [0, 0, 0, 0, 0, 0, 0, 1]);
  const copy = new HackingMonitor({ ...options, test: "drift" });
  copy.restore(monitor.toState());
  const next = { step: 9, rmVersion: 8, rmReward: 0.6, verifierAccuracy: 0.4, agreement: 0.9 };
  assertEquals(copy.observe(next), monitor.observe(next));
});
