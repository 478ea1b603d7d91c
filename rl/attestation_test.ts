import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { AttestationError, WeightAttestations } from "./attestation.ts";
import { SampleLedger } from "./metrics.ts";

Deno.test("attestation - samples whose policy or RM digest is not the published one are refused, by reason", () => {
  const a = new WeightAttestations();
  a.published("policy", 3, ["p3", "p3-bf16"]);
  a.published("rm", 1, ["r1"]);
  const refused = a.refuse([
    { id: "ok", policyVersion: 3, policyDigest: "p3", rmVersion: 1, rmDigest: "r1" },
    { id: "half", policyVersion: 3, policyDigest: "p3-bf16", rmVersion: 1, rmDigest: "r1" },
    { id: "wrong-policy", policyVersion: 3, policyDigest: "p2", rmVersion: 1, rmDigest: "r1" },
    { id: "no-rm", policyVersion: 3, policyDigest: "p3", rmVersion: 1 },
    { id: "unknown", policyVersion: 9, policyDigest: "x", rmVersion: 1, rmDigest: "r1" },
  ]);
  deepStrictEqual(refused.map((r) => r.id), ["wrong-policy", "no-rm"]);
  strictEqual(refused[0]!.reason, "policy v3 digest p2 is not the published p3 or p3-bf16");
  strictEqual(refused[1]!.reason, "rm v1 digest (none) is not the published r1");
  deepStrictEqual(a.snapshot(), {
    checked: 5,
    rejected: 2,
    unverified: 1,
    lastRejection: "no-rm: rm v1 digest (none) is not the published r1",
  });
  a.forget("policy", 4);
  strictEqual(a.refuse([{ id: "old", policyVersion: 3, policyDigest: "p2", rmVersion: 1, rmDigest: "r1" }]).length, 0);
  throws(() => a.published("rm", -1, []), AttestationError);
});

Deno.test("ledger - refused samples are settled, never trained, and survive a checkpoint", () => {
  const ledger = new SampleLedger();
  ledger.generated(["a", "b", "c"]);
  ledger.scored(["a", "b", "c"]);
  ledger.refused(["b"]);
  ledger.trained(["a", "c"]);
  throws(() => ledger.trained(["b"]), /already refused/);
  ledger.assertBalanced({ settled: true });
  const back = SampleLedger.fromState(ledger.toState());
  deepStrictEqual(back.snapshot(), ledger.snapshot());
  strictEqual(back.snapshot().refused, 1);
});
