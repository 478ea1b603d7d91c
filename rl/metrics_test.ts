import { deepStrictEqual as assertEquals, ok, throws } from "node:assert";
import { AccountingError, accuracyOf, pairwiseAccuracy, rmAgreement, SampleLedger } from "./metrics.ts";

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

Deno.test("SampleLedger - generated = scored = trained + dropped-stale once everything settles", () => {
  const ledger = new SampleLedger();
  ledger.generated(ids("a", 8));
  ledger.scored(ids("a", 8));
  ledger.trained(ids("a", 6));
  ledger.droppedStale(["a6", "a7"]);
  ledger.assertBalanced({ settled: true });
  assertEquals(ledger.snapshot(), {
    generated: 8,
    scored: 8,
    trained: 6,
    droppedStale: 2,
    skipped: 0,
    awaitingScore: 0,
    awaitingTraining: 0,
  });
  assertEquals(ledger.state("a7"), "dropped-stale");
});

Deno.test("SampleLedger - double counting and out-of-order records are caught with the sample id", () => {
  const ledger = new SampleLedger();
  ledger.generated(["s1", "s2"]);
  throws(() => ledger.generated(["s1"]), /Cannot record sample "s1" as generated: it is already generated/);
  throws(() => ledger.trained(["s1"]), /Cannot record sample "s1" as trained: it is already generated/);
  throws(() => ledger.scored(["zz"]), /"zz" as scored: it was never generated/);
  ledger.scored(["s1"]);
  throws(() => ledger.scored(["s1"]), AccountingError); // a retried reward call reporting s1 again
  ledger.trained(["s1"]);
  throws(() => ledger.droppedStale(["s1"]), /it is already trained/);
});

Deno.test("SampleLedger - settled check reports what is still in flight", () => {
  const ledger = new SampleLedger();
  ledger.generated(["x0", "x1", "x2"]);
  ledger.scored(["x0", "x1"]);
  ledger.trained(["x0"]);
  ledger.assertBalanced(); // in flight is fine mid-run
  throws(
    () => ledger.assertBalanced({ settled: true }),
    (e: unknown) =>
      e instanceof AccountingError &&
      e.message ===
        "Sample accounting mismatch: generated 3, scored 2, trained 1 + dropped-stale 0; 2 unsettled: x1 (scored), x2 (generated)",
  );
});

Deno.test("SampleLedger - round-trips through its checkpoint state", () => {
  const ledger = new SampleLedger();
  ledger.generated(["a", "b", "c"]);
  ledger.scored(["a", "b"]);
  ledger.droppedStale(["b"]);
  const restored = SampleLedger.fromState(JSON.parse(JSON.stringify(ledger.toState())));
  assertEquals(restored.snapshot(), ledger.snapshot());
  throws(() => restored.generated(["a"]), AccountingError);
  throws(() => SampleLedger.fromState({ samples: [["a", "generated"], ["a", "scored"]] }), /appears twice/);
});

Deno.test("accuracyOf, pairwiseAccuracy", () => {
  assertEquals(accuracyOf(["correct", "incorrect", "unparseable", "correct"]), {
    accuracy: 0.5,
    correct: 2,
    incorrect: 1,
    unparseable: 1,
    total: 4,
  });
  assertEquals(accuracyOf([]).accuracy, 0);
  assertEquals(pairwiseAccuracy([1, 2, 0], [0, 2, 1]), 0.5);
  throws(() => pairwiseAccuracy([1], []), RangeError);
});

Deno.test("rmAgreement - threshold accuracy and within-prompt ranking against verdicts", () => {
  const scores = [2, -1, 0.5, 3, -2, Number.NaN];
  const verdicts = ["correct", "incorrect", "incorrect", "incorrect", "correct", "unparseable"] as const;
  const groups = ["a", "a", "a", "b", "b", "c"];
  const out = rmAgreement(scores, verdicts, groups);
  // σ>½ agrees for 2 (correct), -1 (incorrect); not for 0.5, 3, -2, NaN: 2 of 6.
  assertEquals(out.accuracy, 2 / 6);
  // Group a: 2 > -1 and 2 > 0.5 (2 wins); group b: -2 < 3 (0 wins); group c has no correct sample.
  assertEquals(out.rankPairs, 3);
  assertEquals(out.rankAccuracy, 2 / 3);
  ok(Number.isNaN(rmAgreement([1, 2], ["correct", "correct"], ["a", "a"]).rankAccuracy));
  throws(() => rmAgreement([1], ["correct", "incorrect"], ["a", "a"]), RangeError);
});

Deno.test("SampleLedger - skipped samples are scored, never trained, and settle the ledger", () => {
  const ledger = new SampleLedger();
  ledger.generated(["a", "b", "c"]);
  ledger.scored(["a", "b", "c"]);
  ledger.trained(["a"]);
  ledger.skipped(["b", "c"]);
  const s = ledger.snapshot();
  assertEquals([s.trained, s.skipped, s.awaitingTraining], [1, 2, 0]);
  ledger.assertBalanced({ settled: true });
  assertEquals(ledger.state("b"), "skipped");
  throws(() => ledger.trained(["b"]), AccountingError);
  assertEquals(SampleLedger.fromState(ledger.toState()).snapshot(), s);
});
