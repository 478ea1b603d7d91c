import { deepStrictEqual as assertEquals, ok } from "node:assert";
import { Rng } from "../shared/mod.ts";
import { computeRewards, flipRewards } from "./rewards.ts";

Deno.test("computeRewards - rule mode is the verifier's 0/1", () => {
  assertEquals(
    computeRewards("rule", [{ verdict: "correct", rmScore: -9 }, { verdict: "incorrect" }, { verdict: "unparseable" }]),
    { rewards: [1, 0, 0], invalid: [] },
  );
});

Deno.test("computeRewards - RM modes use σ(score) only, with bad scores zeroed and reported", () => {
  for (const mode of ["static-rm", "cooper"] as const) {
    const out = computeRewards(mode, [
      { verdict: "incorrect", rmScore: 0 },
      { verdict: "correct", rmScore: Number.NaN },
      { verdict: "correct" },
      { verdict: "incorrect", rmScore: 50 },
    ]);
    assertEquals(out.invalid, [1, 2]);
    assertEquals(out.rewards.slice(0, 3), [0.5, 0, 0]);
    ok(out.rewards[3]! > 0.999 && out.rewards.every(Number.isFinite));
  }
});

Deno.test("computeRewards - the verdict shape pays 1 above σ = ½ and 0 at or below it; rule mode ignores it", () => {
  const samples = [
    { verdict: "incorrect" as const, rmScore: 0.3 },
    { verdict: "correct" as const, rmScore: -0.3 },
    { verdict: "correct" as const, rmScore: 0 },
    { verdict: "incorrect" as const, rmScore: Number.POSITIVE_INFINITY },
  ];
  assertEquals(computeRewards("cooper", samples, "verdict"), { rewards: [1, 0, 0, 0], invalid: [3] });
  assertEquals(computeRewards("rule", samples, "verdict").rewards, [0, 1, 1, 0]);
});

Deno.test("flipRewards - flips each reward with probability p, from the seeded stream; p = 0 changes nothing", () => {
  const rewards = Array.from({ length: 4000 }, (_, i) => (i % 2 === 0 ? 1 : 0));
  assertEquals(flipRewards(rewards, 0, new Rng(1)), rewards);
  const once = flipRewards(rewards, 0.1, new Rng(7));
  assertEquals(flipRewards(rewards, 0.1, new Rng(7)), once);
  const flipped = once.filter((r, i) => r !== rewards[i]).length / rewards.length;
  ok(Math.abs(flipped - 0.1) < 0.02, `flipped share ${flipped}`);
  ok(once.every((r) => r === 0 || r === 1));
});
