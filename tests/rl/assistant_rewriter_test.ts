/**
 * The assistant rewriter on a real local cluster. Two tiny char-level causal LMs are saved as HF checkpoint
 * folders: one randomly initialised (it writes garbage: the plumbing must still hold — the assistant is called,
 * every candidate is verifier-filtered, rejections are counted), and one "echo" model whose attention and MLP
 * outputs are zeroed, so with tied embeddings and greedy decoding it repeats the prompt's last character. Through
 * the `prompt` template that makes its rewrites predictable: a prompt ending in `9` gives a wrong final answer
 * (accepted), one ending in a letter gives an unparseable one (rejected and counted).
 */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { type LocalCluster, startLocalCluster } from "../../coordinator/local/mod.ts";
import { spawnRoles } from "../../coordinator/run/roles.ts";
import type { ActorHandle } from "../../actors/core/handle.ts";
import { type AssistantRewriter, rewritePrompt, tinyHfConfig } from "../../actors/roles/mod.ts";
import { parseDecoderConfig } from "../../engine/io/mod.ts";
import { initWeights, saveModel } from "../../engine/models/mod.ts";
import { parseRunConfig, type RunConfig, verify } from "../../rl/mod.ts";
import { rootsIn } from "../runtime/cluster_fixture.ts";

const CLUSTER_TEST = { sanitizeOps: false, sanitizeResources: false, sanitizeExit: false };
const TINY = { dModel: 32, nLayers: 1, nHeads: 2, dFF: 64 };

async function saveAssistant(dir: string, options: { echo: boolean }): Promise<void> {
  const config = parseDecoderConfig(tinyHfConfig({ ...TINY, maxSeqLen: 256 }, { classifier: false }));
  const weights = initWeights(config, { seed: 11 });
  if (options.echo) {
    for (const [name, tensor] of weights) if (/o_proj|down_proj/.test(name)) tensor.data.fill(0);
  }
  await saveModel(dir, config, weights);
}

function assistantConfig(checkpoint: string, assistant: Record<string, unknown>): RunConfig {
  const small = { resources: { cpu: 0.1 } };
  return parseRunConfig({
    name: "asst",
    policy: TINY,
    rewardModel: TINY,
    rollout: { count: 1, ...small },
    reward: small,
    reference: small,
    policyLearner: small,
    rewardLearner: small,
    negatives: { ...small, rewriter: "assistant", assistant: { checkpoint, resources: { cpu: 0.5 }, ...assistant } },
  });
}

Deno.test("negatives.rewriter config: the assistant is required, and errors name the field", () => {
  strictEqual(parseRunConfig({}).negatives.rewriter, "rule");
  strictEqual(parseRunConfig({}).negatives.assistant, undefined);
  throws(
    () => parseRunConfig({ negatives: { rewriter: "assistant" } }),
    /negatives\.assistant: is required when rewriter is "assistant"/,
  );
  throws(
    () => parseRunConfig({ negatives: { rewriter: "llm" } }),
    /negatives\.rewriter: expected "rule" or "assistant", got "llm"/,
  );
  throws(
    () => parseRunConfig({ negatives: { assistant: { checkpoint: "m" } } }),
    /negatives\.rewriter: expected "assistant" when an assistant is configured/,
  );
  throws(
    () => parseRunConfig({ negatives: { rewriter: "assistant", assistant: { checkpoint: "m", samples: 0 } } }),
    /negatives\.assistant\.samples: expected a positive integer, got 0/,
  );
  throws(
    () => parseRunConfig({ negatives: { rewriter: "assistant", assistant: { checkpoint: "m", topK: 3 } } }),
    /negatives\.assistant: unknown field "topK"/,
  );
  throws(
    () => parseRunConfig({ negatives: { rewriter: "assistant", assistant: {} } }),
    /negatives\.assistant\.checkpoint: is required/,
  );
  const config = parseRunConfig({ negatives: { rewriter: "assistant", assistant: { checkpoint: "m" } } });
  deepStrictEqual(config.negatives.assistant?.resources, { cpu: 1 });
  strictEqual(config.negatives.count, 1);
  strictEqual(
    rewritePrompt("{question}|{response}|{reference}", { question: "{response}", response: "r", reference: "1" }),
    "{response}|r|1",
  );
});

Deno.test(
  { name: "AssistantRewriter: negatives come from the assistant model, verifier-filtered", ...CLUSTER_TEST },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "coop-assistant-" });
    let local: LocalCluster | undefined;
    const stops: (() => Promise<void>)[] = [];
    try {
      await saveAssistant(`${dir}/random`, { echo: false });
      await saveAssistant(`${dir}/echo`, { echo: true });
      // The assistant checkpoints live in `dir`: a model root, or the sandboxed actor hosts could not read them.
      local = await startLocalCluster({ agents: [{ nodeId: "n1", cpus: 8 }], env: rootsIn(dir) });
      const cluster = local.client;
      const calls = async (handle: ActorHandle<AssistantRewriter> | undefined) => (await handle!.info()).calls;

      // A random model through the run wiring: `rewriter: "assistant"` spawns it and hands it to the synthesizer.
      const random = await spawnRoles(
        cluster,
        assistantConfig(`${dir}/random`, { samples: 3, maxNewTokens: 16, temperature: 1 }),
        "rand",
      );
      stops.push(random.stop);
      const groups = [
        {
          question: "ann has 3 balls and gets 3 more. how many?",
          reference: "6",
          responses: ["3+3=6. #### 6", "#### 5"],
        },
        { question: "bob has 9 pens and loses 2. how many?", reference: "7", responses: ["9-2=7. #### 7"] },
        { question: "no positive here", reference: "1", responses: ["#### 2"] },
      ];
      const batch = await random.negatives.pairs(groups, 5);
      strictEqual(await calls(random.assistant), 2, "one call per group with a positive");
      strictEqual(batch.counts.noPositive, 1);
      strictEqual(batch.counts.synthesizerErrors, 0);
      strictEqual(batch.counts.valid + batch.counts.noValidNegative, 2);
      // A masked group had all 3 of its candidates rejected; an accepted one stopped at its first wrong answer.
      ok(batch.counts.rejectedNegatives >= 3 * batch.counts.noValidNegative);
      ok(batch.counts.rejectedNegatives <= 3 * 2 - batch.pairs.length);
      for (const pair of batch.pairs) {
        strictEqual(pair.strategy, "assistant");
        strictEqual(verify(pair.negative, groups[pair.group]!.reference).verdict, "incorrect");
      }

      // The echo model, accepted: the continuation of "... #### 9" is "9999...", a wrong final answer.
      const accepted = await spawnRoles(
        cluster,
        assistantConfig(`${dir}/echo`, { samples: 2, maxNewTokens: 4, temperature: 0, prompt: "{response}\n#### 9" }),
        "echo",
      );
      stops.push(accepted.stop);
      const good = await accepted.negatives.pairs([groups[0]!], 1);
      strictEqual(good.pairs.length, 1);
      strictEqual(good.pairs[0]!.negative, "9999");
      strictEqual(good.pairs[0]!.strategy, "assistant");
      strictEqual(verify(good.pairs[0]!.negative, "6").verdict, "incorrect");
      strictEqual(good.counts.rejectedNegatives, 0);

      // The echo model, rejected: "... zz" continues with letters, no final answer; both candidates are counted.
      const rejected = await spawnRoles(
        cluster,
        assistantConfig(`${dir}/echo`, { samples: 2, maxNewTokens: 4, temperature: 0, prompt: "{response} zz" }),
        "zz",
      );
      stops.push(rejected.stop);
      const bad = await rejected.negatives.pairs([groups[0]!], 1);
      strictEqual(bad.pairs.length, 0);
      deepStrictEqual(bad.mask, [false]);
      strictEqual(bad.counts.rejectedNegatives, 2);
      strictEqual(bad.counts.noValidNegative, 1);
      strictEqual(await calls(rejected.assistant), 1);
      const direct = await rejected.assistant!.rewrite({ question: "q", reference: "6", response: "3+3=6." }, 3);
      deepStrictEqual(direct.map((c) => c.text), ["zzzz", "zzzz"]);
    } finally {
      for (const stop of stops) await stop().catch(() => {});
      await local?.stop().catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
