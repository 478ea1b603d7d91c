/**
 * A real-model-shaped Cooper run on a local cluster: a Qwen2 policy (tests/fixtures/qwen2-chat-tiny: random
 * weights, the real 151,669-id Qwen vocabulary, BOS-less tokenizer with the Qwen chat template, stored bf16) and
 * an RM on the same tokenizer, GSM8K-style data. Checks what a real instruct model needs: prompts rendered by the
 * chat template with the system prompt and no BOS, RM input templated, generation stopping on generation_config's
 * eos ids, a full cooper step, and a saved checkpoint that transformers loads unchanged (compared with the engine
 * through `generate.py reference` + parity when transformers is importable; skipped with a note otherwise).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { type LocalCluster, startLocalCluster } from "../../coordinator/local/mod.ts";
import { RunManager } from "../../coordinator/run/manager.ts";
import { spawnRoles } from "../../coordinator/run/roles.ts";
import { loadHfTokenizer } from "../../engine/tokenizers/mod.ts";
import { readSafetensors } from "../../engine/io/mod.ts";
import { checkParity, formatParity } from "../../engine/parity/mod.ts";
import { parseRunConfig, type RunConfig } from "../../rl/mod.ts";
import { CLUSTER_TEST, rootsIn } from "../runtime/cluster_fixture.ts";
import { QWEN2_CHAT_TINY_DIR, QWEN3_TOKENIZER_DIR } from "../fixtures/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SYSTEM = "Solve the problem step by step. End with #### and the final answer.";

function chatConfig(dir: string): RunConfig {
  const small = { resources: { cpu: 0.5 } };
  return parseRunConfig({
    name: "qwen-chat",
    mode: "cooper",
    seed: 5,
    steps: 1,
    maxStaleness: 0,
    data: { source: "gsm8k", path: `${ROOT}rl/data/gsm8k/train.jsonl` },
    eval: { interval: 0, size: 2, path: `${ROOT}rl/data/gsm8k/test.jsonl` },
    checkpoint: { dir: `${dir}/runs`, dtype: "bfloat16" },
    rollout: { count: 1, ...small },
    reward: small,
    reference: small,
    negatives: small,
    policy: { checkpoint: QWEN2_CHAT_TINY_DIR, systemPrompt: SYSTEM },
    rewardModel: { tokenizer: QWEN3_TOKENIZER_DIR, dModel: 8, nLayers: 1, nHeads: 2, dFF: 16, maxSeqLen: 512 },
    grpo: { samplesPerPrompt: 2, promptsPerStep: 2, maxNewTokens: 6, microBatchSize: 4 },
  });
}

async function transformersAvailable(): Promise<boolean> {
  const probe = await new Deno.Command("python3", { args: ["-c", "import torch, transformers"], stderr: "null" })
    .output().catch(() => ({ success: false }));
  return probe.success;
}

Deno.test({
  name: "qwen chat model - a cooper step on a local cluster; the checkpoint loads in transformers",
  ...CLUSTER_TEST,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "coop-qwen-chat-" });
  let local: LocalCluster | undefined;
  try {
    local = await startLocalCluster({ agents: [{ nodeId: "n1", cpus: 4 }], env: rootsIn(dir) });
    const config = chatConfig(dir);
    const tok = await loadHfTokenizer(QWEN3_TOKENIZER_DIR);

    await t.step("rollouts are chat-templated without BOS; the RM scores templated input", async () => {
      const roles = await spawnRoles(local!.client, config, "probe");
      try {
        await roles.policyLearner.publish("probe.policy.v0", 0);
        await roles.rewardLearner.publish("probe.rm.v0", 0);
        const question = "What is 2 + 3?";
        const samples = await roles.rollouts[0]!.rollout({
          version: 0,
          blobPrefix: "probe.policy",
          prompts: [{ id: "p", question, answer: "5" }],
          samples: 2,
          maxNewTokens: 4,
          temperature: 1,
          seed: 1,
        });
        const expected = tok.chatTemplate!.render(
          [{ role: "system", content: SYSTEM }, { role: "user", content: question }],
          { addGenerationPrompt: true },
        );
        strictEqual(tok.decode(samples[0]!.promptIds, { skipSpecial: false }), expected);
        strictEqual(samples[0]!.promptIds[0], tok.tokenToId("<|im_start|>"));
        ok(samples.every((s) => s.responseIds.length >= 1 && s.responseIds.length <= 4));
        const scored = await roles.reward.score({
          items: [{ question, reference: "5", response: "2 + 3 = 5. #### 5" }],
          rm: { blobPrefix: "probe.rm", version: 0 },
        });
        deepStrictEqual(scored.verdicts, ["correct"]);
        ok(Number.isFinite(scored.scores[0]));
      } finally {
        await roles.stop();
      }
    });

    const manager = new RunManager(local.client);
    const status = manager.start(config);
    const final = await manager.wait(status.id);
    const policyDir = `${dir}/runs/${status.id}/step-1/policy`;

    await t.step("a full cooper step finishes and saves a complete bf16 checkpoint", async () => {
      strictEqual(final.state, "finished", final.error?.message);
      strictEqual(final.policyVersion, 1);
      for (const name of ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "config.json"]) {
        ok((await Deno.stat(`${policyDir}/${name}`)).isFile, `${name} is in the checkpoint`);
      }
      const generation = JSON.parse(await Deno.readTextFile(`${policyDir}/generation_config.json`));
      deepStrictEqual(generation.eos_token_id, [151645, 151643]);
      const weights = await readSafetensors(`${policyDir}/model.safetensors`);
      ok([...weights.tensors.values()].every((w) => w.dtype === "bfloat16"));
      strictEqual(JSON.parse(await Deno.readTextFile(`${policyDir}/config.json`)).torch_dtype, "bfloat16");
      ok((await Deno.stat(`${dir}/runs/${status.id}/step-1/reward_model/tokenizer.json`)).isFile);
    });

    await t.step("transformers loads the saved policy and computes what the engine computes", async () => {
      if (!(await transformersAvailable())) {
        console.log("skipped: python3 with torch and transformers is not importable (pip install torch transformers)");
        return;
      }
      const check = `${dir}/transformers`;
      await Deno.mkdir(check);
      for await (const entry of Deno.readDir(policyDir)) {
        if (entry.name !== "optimizer.safetensors") {
          await Deno.copyFile(`${policyDir}/${entry.name}`, `${check}/${entry.name}`);
        }
      }
      const script = `${ROOT}tests/fixtures/hf/generate.py`;
      const out = await new Deno.Command("python3", { args: [script, "reference", check, "--no-grads"] }).output();
      ok(out.success, new TextDecoder().decode(out.stderr).slice(-2000));
      const report = await checkParity(check);
      ok(report.ok, formatParity(report));
      const chat = JSON.parse(await Deno.readTextFile(`${check}/expected_chat.json`));
      const saved = await loadHfTokenizer(check);
      for (const c of chat.cases) {
        strictEqual(saved.chatTemplate!.render(c.messages, { addGenerationPrompt: c.add_generation_prompt }), c.text);
        deepStrictEqual(saved.encode(c.text), c.ids);
      }
    });
  } finally {
    await local?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
