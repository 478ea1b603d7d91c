import { ok, strictEqual } from "node:assert";
import { registrationOf } from "../core/mod.ts";
import { PolicyLearner, RewardLearner } from "./learners.ts";

Deno.test("learners - remote save/load dirs must be inside the run (or, for load, model) roots", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-learner-roots-" });
  const saved = Deno.env.get("COOP_ROOTS_RUNS");
  try {
    await Deno.mkdir(`${dir}/runs/ck`, { recursive: true });
    Deno.env.set("COOP_ROOTS_RUNS", `${dir}/runs`);
    for (const cls of [PolicyLearner, RewardLearner]) {
      const methods = registrationOf(cls)!.methods;
      const save = methods.save!.args!;
      const load = methods.load!.args!;
      ok(save.safeParse([`${dir}/runs/ck/policy`]).success, "a new dir under the run roots");
      for (const bad of ["/tmp/outside", `${dir}/runs/../x`, "/etc", "/dev"]) {
        const result = save.safeParse([bad]);
        ok(!result.success && /learner save dir: must be inside the runs roots/.test(result.error.message), bad);
        strictEqual(load.safeParse([bad]).success, false, bad);
      }
      ok(load.safeParse([`${dir}/runs/ck`]).success);
      strictEqual(load.safeParse([`${dir}/runs/missing`]).success, false);
    }
  } finally {
    if (saved === undefined) Deno.env.delete("COOP_ROOTS_RUNS");
    else Deno.env.set("COOP_ROOTS_RUNS", saved);
    await Deno.remove(dir, { recursive: true });
  }
});
