import { deepStrictEqual as assertEquals, throws } from "node:assert";
import { applyOverrides, parseOverride } from "./overrides.ts";
import { parseJobConfig } from "../../rl/mod.ts";

Deno.test("--set - JSON values, strings otherwise; nested objects are created; the input is untouched", () => {
  const file = { steps: 40, grpo: { lr: 1e-5 } };
  const sets = ["steps=2", "grpo.lr=1e-6", "policy.checkpoint=models/qwen", "data.levels=[1,2]", "eval.path=null"];
  const out = applyOverrides(file, sets.map(parseOverride));
  assertEquals(out, {
    steps: 2,
    grpo: { lr: 1e-6 },
    policy: { checkpoint: "models/qwen" },
    data: { levels: [1, 2] },
    eval: { path: null },
  });
  assertEquals(file, { steps: 40, grpo: { lr: 1e-5 } });
  assertEquals(parseOverride("policy.systemPrompt=a=b").value, "a=b");
});

Deno.test("--set - bad syntax, a path through a value, and schema errors all name the field", () => {
  throws(() => parseOverride("steps"), { name: "ConfigError", message: /expected field\.path=value/ });
  throws(() => parseOverride("grpo..lr=1"), { name: "ConfigError" });
  throws(() => applyOverrides({ steps: 3 }, [parseOverride("steps.x=1")]), {
    name: "ConfigError",
    message: /--set steps\.x: steps is 3, not an object/,
  });
  throws(() => parseJobConfig(applyOverrides({}, [parseOverride("grpo.lrr=1")])), {
    message: /grpo: unknown field "lrr"/,
  });
  throws(() => parseJobConfig(applyOverrides({}, [parseOverride("steps=0")])), {
    message: /steps: expected a positive integer, got 0/,
  });
});
