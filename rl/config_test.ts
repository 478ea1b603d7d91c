import { deepStrictEqual as assertEquals, ok, rejects, throws } from "node:assert";
import { ConfigError } from "../shared/errors.ts";
import {
  loadConfig,
  parseConfigText,
  parseJobConfig,
  parseRunConfig,
  type RmPretrainConfig,
  type RunConfig,
  type SftConfig,
} from "./config.ts";

const CONFIG_DIR = new URL("./configs/", import.meta.url).pathname;

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error.message;
  }
  throw new Error("expected a ConfigError");
}

Deno.test("parseRunConfig - an empty config gets the tiny-demo defaults and the paper's hyperparameters", () => {
  const config = parseRunConfig({});
  assertEquals(config.kind, "rl");
  assertEquals(config.mode, "cooper");
  assertEquals(config.maxStaleness, 1);
  assertEquals(config.rollout, { count: 2, resources: { cpu: 1 }, colocate: false });
  assertEquals(config.data, { source: "builtin", levels: [1, 2], seed: 0, size: 2000 });
  assertEquals([config.grpo.clipRatio, config.grpo.clipRatioC, config.grpo.klCoef, config.grpo.epsilon], [
    0.2,
    3,
    0.001,
    1e-6,
  ]);
  // GRPO's std-normalised advantages and the RM's probability as the reward, as in the paper.
  assertEquals([config.grpo.normalizeByStd, config.grpo.rmReward], [true, "probability"]);
  assertEquals([config.rewardUpdate.lr, config.rewardUpdate.gradClip], [1e-5, 1.0]);
  // The paper's update: rewrites as negatives, no pointwise anchor.
  assertEquals([config.rewardUpdate.negatives, config.rewardUpdate.anchorWeight], ["rewrite", 0]);
  assertEquals([config.policy.tokenizer, config.policy.chatTemplate], [undefined, true]);
  assertEquals(config.weights, { transferDtype: "float32" });
  assertEquals(parseRunConfig({ weights: { transferDtype: "bfloat16" } }).weights.transferDtype, "bfloat16");
});

Deno.test("parseRunConfig - errors name the field path and the bad value", () => {
  assertEquals(
    message(() => parseRunConfig({ rollout: { count: -1 } })),
    "Invalid run config: rollout.count: expected a positive integer, got -1",
  );
  assertEquals(message(() => parseRunConfig({ maxStalness: 2 })), `Invalid run config: unknown field "maxStalness"`);
  assertEquals(
    message(() => parseRunConfig({ mode: "rm" })),
    `Invalid run config: mode: expected "rule", "static-rm" or "cooper", got "rm"`,
  );
  assertEquals(
    message(() => parseRunConfig({ data: { source: "gsm8k" } })),
    "Invalid run config: data.path: is required",
  );
  assertEquals(
    message(() => parseRunConfig({ data: { source: "builtin", levels: [1, 9] } })),
    "Invalid run config: data.levels.1: expected a level from 1 to 6, got 9",
  );
  assertEquals(
    message(() => parseRunConfig({ grpo: { samplesPerPrompt: 1, clipRatioC: 0.5 } })),
    "Invalid run config: grpo.samplesPerPrompt: expected at least 2 samples per prompt (GRPO compares within groups), " +
      "got 1; grpo.clipRatioC: expected a dual-clip ratio greater than 1, got 0.5",
  );
  assertEquals(
    message(() => parseRunConfig({ grpo: { normalizeByStd: "no", rmReward: "logit" } })),
    'Invalid run config: grpo.normalizeByStd: expected true or false, got "no"; grpo.rmReward: expected ' +
      '"probability" or "verdict", got "logit"',
  );
  assertEquals(
    message(() => parseRunConfig({ mode: "cooper", grpo: { verdictNoise: 0.1 } })),
    "Invalid run config: grpo.verdictNoise: expected 0 in mode cooper (the flip control applies to the rule reward " +
      "only)",
  );
  assertEquals(
    message(() => parseRunConfig({ mode: "rule", grpo: { verdictNoise: 0.7 } })),
    "Invalid run config: grpo.verdictNoise: expected a flip probability in [0, 0.5], got 0.7",
  );
  assertEquals(parseRunConfig({ mode: "rule", grpo: { verdictNoise: 0.1 } }).grpo.verdictNoise, 0.1);
  assertEquals(
    message(() => parseRunConfig({ policy: { dModel: 64, nHeads: 5 } })),
    "Invalid run config: policy.nHeads: dModel must be divisible by nHeads",
  );
  assertEquals(
    message(() => parseRunConfig({ weights: { transferDtype: "int8" } })),
    `Invalid run config: weights.transferDtype: expected "float32", "bfloat16" or "float16", got "int8"`,
  );
  assertEquals(
    message(() => parseRunConfig({ steps: "10" })),
    `Invalid run config: steps: expected a positive integer, got "10"`,
  );
  const error = (() => {
    try {
      parseRunConfig({ reward: { resources: { cpu: -1 } } });
    } catch (e) {
      return e as ConfigError;
    }
  })();
  assertEquals(error?.issues, [{ path: "reward.resources.cpu", message: "expected a non-negative number, got -1" }]);
});

Deno.test("parseJobConfig - dispatches on kind", () => {
  assertEquals(parseJobConfig({ kind: "sft" }).kind, "sft");
  const rm = parseJobConfig({ kind: "rm-pretrain", labelledTasks: 64 }) as RmPretrainConfig;
  assertEquals([rm.labelledTasks, rm.balanced, rm.policy], [64, true, undefined]);
  assertEquals(
    message(() => parseJobConfig({ kind: "ppo" })),
    `Invalid run config: kind: expected "rl", "sft" or "rm-pretrain", got "ppo"`,
  );
  assertEquals(
    message(() => parseJobConfig({ kind: "sft", lr: 0 })),
    "Invalid sft config: lr: expected a positive number, got 0",
  );
  assertEquals(
    message(() => parseJobConfig({ kind: "sft", mode: "rule" })),
    `Invalid sft config: unknown field "mode"`,
  );
});

Deno.test("parseConfigText - YAML and JSON; syntax errors are ConfigErrors naming the source", () => {
  const yaml = parseConfigText("mode: rule\nrollout:\n  count: 3\n") as RunConfig;
  assertEquals([yaml.mode, yaml.rollout.count], ["rule", 3]);
  const json = parseConfigText(`{"mode": "static-rm"}`) as RunConfig;
  assertEquals(json.mode, "static-rm");
  ok(
    message(() => parseConfigText("mode: [rule", { source: "x.yaml" })).startsWith(
      "Invalid run config: cannot parse YAML x.yaml:",
    ),
  );
  ok(message(() => parseConfigText("{", { format: "json" })).startsWith("Invalid run config: cannot parse JSON:"));
  assertEquals(parseConfigText("").kind, "rl"); // an empty file is all defaults
  throws(() => parseConfigText("- 1\n- 2\n"), ConfigError);
});

Deno.test("loadConfig - every example under rl/configs is valid", async () => {
  const kinds: Record<string, string> = {};
  for (const entry of Deno.readDirSync(CONFIG_DIR)) {
    kinds[entry.name] = (await loadConfig(CONFIG_DIR + entry.name)).kind;
  }
  assertEquals(kinds["demo.yaml"], "rl");
  assertEquals(kinds["quick.yaml"], "rl");
  assertEquals(kinds["sft.yaml"], "sft");
  assertEquals(kinds["rm_pretrain.yaml"], "rm-pretrain");
  assertEquals(kinds["gsm8k.json"], "rl");
  const sft = (await loadConfig(CONFIG_DIR + "sft.yaml")) as SftConfig;
  assertEquals(sft.checkpoint.dir, "runs/demo/sft");
  await rejects(loadConfig("/nonexistent/run.yaml"), /Invalid run config: cannot read "\/nonexistent\/run.yaml"/);
});

Deno.test("parseRunConfig - the memory options default off; colocation needs maxStaleness 0", () => {
  const config = parseRunConfig({});
  assertEquals([config.rollout.colocate, config.reward.colocate, config.rewardUpdate.freezeEmbedding], [
    false,
    false,
    false,
  ]);
  const colocated = parseRunConfig({ maxStaleness: 0, rollout: { colocate: true }, reward: { colocate: true } });
  ok(colocated.rollout.colocate && colocated.reward.colocate);
  for (const role of ["rollout", "reward"]) {
    throws(
      () => parseRunConfig({ maxStaleness: 1, [role]: { colocate: true } }),
      (e: Error) =>
        e instanceof ConfigError && /maxStaleness/.test(e.message) && e.message.includes(`${role}.colocate`),
    );
  }
  throws(() => parseRunConfig({ rewardUpdate: { freezeEmbedding: "yes" } }), /rewardUpdate\.freezeEmbedding/);
});
