import { deepStrictEqual as assertEquals, throws } from "node:assert";
import { keepEnd, PromptCodec, stopTokensOf } from "./prompts.ts";
import { parseDecoderConfig } from "../../engine/io/mod.ts";
import { CharTokenizer, loadHfTokenizer } from "../../engine/tokenizers/mod.ts";
import { TASK_ALPHABET } from "../../rl/mod.ts";
import { QWEN2_CHAT_TINY_DIR, QWEN3_TOKENIZER_DIR } from "../../tests/fixtures/mod.ts";

Deno.test("prompt codec - the char tokenizer keeps the plain `question\\n` prompt with BOS, as before", () => {
  const tok = new CharTokenizer(TASK_ALPHABET);
  const codec = new PromptCodec(tok, {
    stopTokens: [tok.eosId],
    prompt: { systemPrompt: "ignored without a template" },
  });
  assertEquals(codec.chat, false);
  assertEquals(codec.policyPrompt("1+2=?"), tok.encode("1+2=?\n", { addBos: true }));
  assertEquals(codec.rmInput("abc", 3), [tok.bosId, ...tok.encode("bc")]);
});

Deno.test("prompt codec - a chat model gets its template, a system prompt, no BOS; the RM input is one user turn", async () => {
  const tok = await loadHfTokenizer(QWEN3_TOKENIZER_DIR);
  const codec = new PromptCodec(tok, { stopTokens: [151645], prompt: { systemPrompt: "Be brief." } });
  assertEquals(
    tok.decode(codec.policyPrompt("2+2?"), { skipSpecial: false }),
    "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n",
  );
  assertEquals(
    tok.decode(codec.rmInput("<question>q</question>", 100), { skipSpecial: false }),
    "<|im_start|>user\n<question>q</question><|im_end|>\n",
  );
  // Past maxLen the start goes (no BOS to keep), so the completion's final answer stays in.
  const cut = codec.rmInput("x ".repeat(50) + "#### 7", 8);
  assertEquals([cut.length, tok.decode(cut).trimEnd().endsWith("#### 7")], [8, true]);
  const plain = new PromptCodec(tok, { stopTokens: [], prompt: { chatTemplate: false } });
  assertEquals(plain.policyPrompt("2+2?"), tok.encode("2+2?\n"));
});

Deno.test("stop tokens - generation_config.json, config.json and the tokenizer's eos, once each", async () => {
  const hf = JSON.parse(await Deno.readTextFile(`${QWEN2_CHAT_TINY_DIR}/config.json`));
  const generation = JSON.parse(await Deno.readTextFile(`${QWEN2_CHAT_TINY_DIR}/generation_config.json`));
  const tok = await loadHfTokenizer(QWEN3_TOKENIZER_DIR);
  assertEquals(stopTokensOf(parseDecoderConfig(hf), tok, generation), [151645, 151643]);
  assertEquals(stopTokensOf(parseDecoderConfig({ ...hf, eos_token_id: null }), tok, {}), [151645]);
  assertEquals(keepEnd([1, 2, 3, 4, 5], 3, 1), [1, 4, 5]);
  throws(() => keepEnd([1, 2, 3], 1, 1), { name: "TokenizerError" });
});
