import { deepStrictEqual as assertEquals, rejects, throws } from "node:assert";
import { CharTokenizer } from "./char_tokenizer.ts";
import { HfTokenizer, loadHfTokenizer } from "./hf_tokenizer.ts";

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
  throws(() => tok.encode("a", { addBos: true }), { name: "TokenizerError", message: /bos_token/ });
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
