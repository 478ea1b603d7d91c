import { deepStrictEqual as assertEquals, rejects, throws } from "node:assert";
import { CharTokenizer } from "./char_tokenizer.ts";
import { HfTokenizer, loadHfTokenizer } from "./hf_tokenizer.ts";
import { QWEN3_TOKENIZER_DIR } from "../../tests/fixtures/mod.ts";

Deno.test("char tokenizer - round trips text and reserves pad/bos/eos as 0/1/2", () => {
  const tok = new CharTokenizer("0123456789+=");
  assertEquals(tok.vocabSize, 15);
  const ids = tok.encode("12+3=", { addBos: true, addEos: true });
  assertEquals(ids, [1, 4, 5, 13, 6, 14, 2]);
  assertEquals(tok.decode(ids), "12+3=");
  assertEquals(tok.decode([0, ...ids], { skipSpecial: false }), "<pad><bos>12+3=<eos>");
});

Deno.test("char tokenizer - unknown characters and ids are named", () => {
  const tok = new CharTokenizer("01");
  throws(() => tok.encode("012"), { name: "TokenizerError", message: /character "2"/ });
  throws(() => tok.decode([9]), { name: "TokenizerError", message: /id 9/ });
  throws(() => new CharTokenizer("00"), { name: "TokenizerError", message: /appears twice/ });
});

/** A byte-level BPE tokenizer.json small enough to write inline (the Qwen2/Llama 3 family's layout). */
function tinyBpe(): unknown {
  const vocab: Record<string, number> = {};
  for (const ch of ["a", "b", "c", "Ġ", "ab", "Ġa", "Ġab"]) vocab[ch] = Object.keys(vocab).length;
  return {
    version: "1.0",
    added_tokens: [
      {
        id: 7,
        content: "<|endoftext|>",
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
      {
        id: 8,
        content: "<|im_end|>",
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: ["Ġ a", "Ġa b", "a b"],
    },
  };
}

Deno.test("hf tokenizer - byte-level BPE encodes, decodes and resolves special ids from tokenizer_config", () => {
  const tok = new HfTokenizer(tinyBpe(), { eos_token: "<|im_end|>", pad_token: "<|endoftext|>", bos_token: null });
  assertEquals(tok.vocabSize, 9);
  assertEquals([tok.padId, tok.eosId, tok.bosId], [7, 8, null]);
  const ids = tok.encode("ab abc", { addEos: true });
  assertEquals(ids, [4, 6, 2, 8]);
  assertEquals(tok.decode(ids), "ab abc");
  assertEquals(tok.decode([]), "");
  // A BOS-less tokenizer (Qwen) ignores addBos instead of failing every caller that asks for the convention.
  assertEquals(tok.encode("a", { addBos: true }), [0]);
  assertEquals(tok.addsBos, false);
  throws(() => tok.decode([99]), { name: "TokenizerError", message: /id 99/ });
});

Deno.test("hf tokenizer - loads a folder's tokenizer.json and tokenizer_config.json; a missing file is named", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop_tok_" });
  try {
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(tinyBpe()));
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify({ eos_token: { content: "<|im_end|>" } }));
    const tok = await loadHfTokenizer(dir);
    assertEquals([tok.eosId, tok.padId], [8, 8]);
    assertEquals(tok.encode("abc"), [4, 2]);
    await rejects(loadHfTokenizer(`${dir}/nope`), { name: "TokenizerError", message: /tokenizer.json/ });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hf tokenizer - BOS follows add_bos_token, and a BOS is never invented", () => {
  const vocabWithBos = tinyBpe() as { added_tokens: unknown[] };
  vocabWithBos.added_tokens.push({ ...(vocabWithBos.added_tokens[0] as object), id: 9, content: "<s>" });
  const llamaLike = new HfTokenizer(vocabWithBos, { bos_token: "<s>", add_bos_token: true });
  assertEquals(llamaLike.encode("ab", { addBos: true }), [9, 4]);
  assertEquals(llamaLike.encode("ab"), [4]);
  const off = new HfTokenizer(vocabWithBos, { bos_token: "<s>", add_bos_token: false });
  assertEquals(off.encode("ab", { addBos: true }), [4]);
});

Deno.test("hf tokenizer - the real Qwen3 tokenizer: no BOS, <|im_end|> eos, its chat template renders as transformers", async () => {
  const tok = await loadHfTokenizer(QWEN3_TOKENIZER_DIR);
  assertEquals([tok.vocabSize, tok.bosId, tok.addsBos, tok.eosId, tok.padId], [151669, null, false, 151645, 151643]);
  assertEquals(tok.encode("Natalia sold 48 clips.", { addBos: true }), tok.encode("Natalia sold 48 clips."));
  const text = tok.chatTemplate!.render(
    [{ role: "system", content: "Solve it." }, { role: "user", content: "What is 2+2?" }],
    { addGenerationPrompt: true },
  );
  assertEquals(
    text,
    "<|im_start|>system\nSolve it.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
  );
  const ids = tok.encode(text);
  // Special tokens in the rendered text are single ids, as transformers' apply_chat_template(tokenize=True) gives.
  assertEquals([ids[0], ids.at(-2)], [tok.tokenToId("<|im_start|>"), tok.tokenToId("assistant")]);
  assertEquals(tok.decode(ids, { skipSpecial: false }), text);
  assertEquals(
    tok.chatTemplate!.render([{ role: "user", content: "hi" }], { variables: { enable_thinking: false } }),
    "<|im_start|>user\nhi<|im_end|>\n",
  );
});

Deno.test("hf tokenizer - chat_template.jinja wins over tokenizer_config.json; a broken template is a TokenizerError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop_tok_" });
  try {
    await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(tinyBpe()));
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify({ chat_template: "config" }));
    await Deno.writeTextFile(
      `${dir}/chat_template.jinja`,
      "{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}{% if add_generation_prompt %}>{% endif %}",
    );
    const tok = await loadHfTokenizer(dir);
    assertEquals(
      tok.chatTemplate!.render([{ role: "user", content: "ab" }], { addGenerationPrompt: true }),
      "[user] ab>",
    );
    throws(() => new HfTokenizer(tinyBpe(), { chat_template: "{% for %}" }), { name: "TokenizerError" });
    const raising = new HfTokenizer(tinyBpe(), { chat_template: "{{ raise_exception('no system role') }}" });
    throws(() => raising.chatTemplate!.render([]), { name: "TokenizerError", message: /no system role/ });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hf tokenizer - chat renderings and ids match transformers' apply_chat_template (expected_chat.json)", async () => {
  const tok = await loadHfTokenizer(QWEN3_TOKENIZER_DIR);
  const expected = JSON.parse(await Deno.readTextFile(`${QWEN3_TOKENIZER_DIR}/expected_chat.json`));
  for (const c of expected.cases) {
    const text = tok.chatTemplate!.render(c.messages, { addGenerationPrompt: c.add_generation_prompt });
    assertEquals(text, c.text);
    assertEquals(tok.encode(text), c.ids);
  }
});
