import { deepStrictEqual as assertEquals, ok, throws } from "node:assert";
import {
  groupAdvantages,
  groupAdvantagesBySize,
  GrpoInputError,
  grpoLoss,
  k3Kl,
  klLoss,
  meanStd,
  ppoClipLoss,
  tokenMean,
} from "./grpo.ts";

function close(actual: number, expected: number, tol = 1e-9, what = ""): void {
  ok(Math.abs(actual - expected) <= tol, `${what} expected ${expected}, got ${actual}`);
}

Deno.test("groupAdvantages - (r - mean)/(unbiased std + 1e-6), by hand", () => {
  // Group [1,0,0,0]: mean 0.25; unbiased var = (0.75² + 3·0.25²)/3 = 0.25, std 0.5 (population std would be 0.433).
  const adv = groupAdvantagesBySize([1, 0, 0, 0], 4);
  close(adv[0]!, 0.75 / (0.5 + 1e-6), 1e-12);
  for (const a of adv.slice(1)) close(a, -0.25 / (0.5 + 1e-6), 1e-12);
  assertEquals(meanStd([1, 0, 0, 0]), { mean: 0.25, std: 0.5 });
});

Deno.test("groupAdvantages - groups by id, in any order", () => {
  const adv = groupAdvantages([1, 5, 0, 3], ["a", "b", "a", "b"]);
  // group a: [1,0] mean 0.5 std √0.5; group b: [5,3] mean 4 std √2.
  close(adv[0]!, 0.5 / (Math.SQRT1_2 + 1e-6), 1e-12);
  close(adv[2]!, -0.5 / (Math.SQRT1_2 + 1e-6), 1e-12);
  close(adv[1]!, 1 / (Math.SQRT2 + 1e-6), 1e-12);
  close(adv[3]!, -1 / (Math.SQRT2 + 1e-6), 1e-12);
});

Deno.test("groupAdvantages - equal rewards give zero; singleton groups use mean 0, std 1 (verl)", () => {
  for (const a of groupAdvantagesBySize([0.7, 0.7, 0.7], 3)) close(a, 0, 1e-9); // float noise in the mean only
  close(groupAdvantagesBySize([0.8], 1)[0]!, 0.8 / (1 + 1e-6), 1e-15);
  assertEquals(groupAdvantagesBySize([1, 0], 2, { normalizeByStd: false }), [0.5, -0.5]);
});

Deno.test("groupAdvantages - non-finite rewards and bad layouts are GrpoInputErrors naming the sample", () => {
  throws(() => groupAdvantagesBySize([1, Number.NaN], 2), /reward 1 is NaN/);
  throws(() => groupAdvantagesBySize([1, Infinity], 2), GrpoInputError);
  throws(() => groupAdvantagesBySize([1, 2, 3], 2), /do not split into groups of 2/);
  throws(() => groupAdvantages([1], [1, 2]), /1 rewards but 2 group ids/);
});

Deno.test("ppoClipLoss - positive advantage: clip above 1+ε, by hand", () => {
  const r = ppoClipLoss({
    logProbs: [[0, Math.log(1.5), Math.log(0.5), 123]],
    oldLogProbs: [[0, 0, 0, Number.NaN]],
    advantages: [1],
    mask: [[1, 1, 1, 0]], // the padded 4th token never counts, even as NaN
  });
  // per token: max(-r, -clip(r)) = [-1, -1.2, -0.5] → mean -0.9; clipped only at r = 1.5.
  close(r.loss, -2.7 / 3, 1e-8);
  close(r.clipFraction, 1 / 3, 1e-8);
  close(r.clipFractionLower, 0, 1e-12);
  close(r.approxKl, -(Math.log(1.5) + Math.log(0.5)) / 3, 1e-8);
});

Deno.test("ppoClipLoss - negative advantage: dual clip caps the loss at -A·c", () => {
  const r = ppoClipLoss({
    logProbs: [[0, Math.log(1.5), Math.log(5)]],
    oldLogProbs: [[0, 0, 0]],
    advantages: [-1],
    mask: [[1, 1, 1]],
  });
  // max(-A r, -A clip r) = [1, 1.5, 5]; min(3, ·) = [1, 1.5, 3] → mean 5.5/3.
  close(r.loss, 5.5 / 3, 1e-8);
  close(r.clipFraction, 0, 1e-12);
  close(r.clipFractionLower, 1 / 3, 1e-8);
  // Without the dual clip (c huge) the last token would cost 5.
  const single = { logProbs: [[Math.log(5)]], oldLogProbs: [[0]], advantages: [-1], mask: [[1]] };
  close(ppoClipLoss(single, { clipRatioC: 1e9 }).loss, 5, 1e-7);
});

Deno.test("ppoClipLoss - token-mean weights every token equally across sequences", () => {
  const r = ppoClipLoss({
    logProbs: [[0, 0, 0], [0, 0, 0]],
    oldLogProbs: [[0, 0, 0], [0, 0, 0]],
    advantages: [1, -2],
    mask: [[1, 1, 1], [1, 0, 0]],
  });
  // ratio 1: losses -A per token → (-1·3 + 2·1)/4 (a sequence-mean would give (-1 + 2)/2).
  close(r.loss, -1 / 4, 1e-8);
  throws(() => ppoClipLoss({ logProbs: [[0]], oldLogProbs: [[0]], advantages: [1], mask: [[1]] }, { clipRatioC: 1 }));
  throws(
    () => ppoClipLoss({ logProbs: [[0, 0]], oldLogProbs: [[0]], advantages: [1], mask: [[1, 1]] }),
    /"oldLogProbs" does not match the shape of "mask"/,
  );
});

Deno.test("k3Kl - exp(d) - d - 1 with d = ref - logp, clamped as verl", () => {
  close(k3Kl(Math.log(0.5), Math.log(0.25)), 0.5 - Math.log(0.5) - 1, 1e-12);
  assertEquals(k3Kl(-1.3, -1.3), 0);
  ok(k3Kl(-2, -1) > 0 && k3Kl(-1, -2) > 0);
  assertEquals(k3Kl(-30, 0), 10); // d = 30 → clamped to 20 → exp(20) − 21 → clamped to 10
  assertEquals(k3Kl(0, -30), 10); // d = −30 → clamped to −20 → e^−20 + 19 → clamped to 10
});

Deno.test("k3Kl - its mean over samples from π estimates KL(π‖π_ref)", () => {
  // Two-outcome policies p = [0.7, 0.3], ref = [0.4, 0.6]; E_p[k3] = Σ p (q/p − log(q/p) − 1) = KL(p‖q).
  const p = [0.7, 0.3];
  const q = [0.4, 0.6];
  const expectation = p.reduce((acc, pi, i) => acc + pi * k3Kl(Math.log(pi), Math.log(q[i]!)), 0);
  const kl = p.reduce((acc, pi, i) => acc + pi * Math.log(pi / q[i]!), 0);
  close(expectation, kl, 1e-12);
});

Deno.test("grpoLoss - policy loss + 0.001 · token-mean k3", () => {
  const input = {
    logProbs: [[Math.log(0.5), Math.log(0.9)]],
    oldLogProbs: [[Math.log(0.5), Math.log(0.9)]],
    refLogProbs: [[Math.log(0.25), Math.log(0.9)]],
    advantages: [2],
    mask: [[1, 1]],
  };
  const r = grpoLoss(input);
  const kl = (0.5 - Math.log(0.5) - 1) / 2;
  close(r.kl, kl, 1e-8);
  close(r.policyLoss, -2, 1e-8);
  close(r.loss, -2 + 0.001 * kl, 1e-8);
  close(grpoLoss(input, { klCoef: 0 }).loss, -2, 1e-8);
  close(klLoss(input.logProbs, input.refLogProbs, input.mask), kl, 1e-8);
  assertEquals(tokenMean([[5]], [[0]]), 0);
});
