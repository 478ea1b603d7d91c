/**
 * `AssistantRewriter` (actor): the paper's negative synthesis for real data. An assistant causal LM is prompted
 * with the problem and a verified-correct response and asked to rewrite it so the final answer is wrong; its
 * samples are the candidates. It does no filtering: the {@link NegativeSynthesizer} keeps a candidate only when
 * the verifier finds its final answer differs, and counts the rest as rejected.
 */
import { z } from "zod";
import { Generator } from "../../engine/generate/mod.ts";
import { ModelRuntime } from "../../engine/models/mod.ts";
import type { NegativeCandidate, NegativeInput } from "../../rl/mod.ts";
import { registerActor } from "../core/mod.ts";
import { actorSession, configOf, initialWeights, loadPromptCodec, type ModelSpec, RoleError } from "./model_spec.ts";
import { keepEnd, type PromptCodec } from "./prompts.ts";

/**
 * The default rewrite prompt (`{question}`, `{response}` and `{reference}` are filled in). It only uses lowercase
 * letters and the task punctuation so the engine's char tokenizer can encode it too.
 */
export const DEFAULT_REWRITE_PROMPT =
  "<question>{question}</question>\n<correct_solution>{response}</correct_solution>\n" +
  "rewrite the correct solution with one plausible mistake, carried through to the end, " +
  "so that the final answer is wrong. end with #### and the wrong answer.\n<wrong_solution>";

/** What an {@link AssistantRewriter} is spawned with. */
export interface AssistantSpec {
  model: ModelSpec;
  /** Candidates sampled per call. */
  samples: number;
  maxNewTokens: number;
  /** Sampling temperature (0 = greedy). */
  temperature: number;
  /** Prompt template; default {@link DEFAULT_REWRITE_PROMPT}. */
  prompt?: string;
}

const INPUT = z.tuple([
  z.object({ question: z.string(), reference: z.string(), response: z.string() }),
  z.number().int(),
]);

/** Fills a rewrite prompt template. */
export function rewritePrompt(template: string, input: NegativeInput): string {
  // One pass, so a `{response}` inside the question text is never expanded again.
  return template.replace(/\{(question|response|reference)\}/g, (_, key: keyof NegativeInput) => input[key]);
}

/** Rewrites a correct response into wrong-answer candidates with an assistant causal LM. */
export class AssistantRewriter {
  readonly #spec: AssistantSpec;
  #loaded: Promise<{ generator: Generator; codec: PromptCodec; maxSeqLen: number }> | undefined;
  #calls = 0;

  constructor(spec: AssistantSpec) {
    this.#spec = spec;
  }

  /** `samples` rewrites of `input.response`, sampled with `seed` (unfiltered). */
  async rewrite(input: NegativeInput, seed = 0): Promise<NegativeCandidate[]> {
    this.#calls++;
    const { generator, codec, maxSeqLen } = await this.#load();
    const spec = this.#spec;
    let ids = codec.instruction(rewritePrompt(spec.prompt ?? DEFAULT_REWRITE_PROMPT, input));
    const room = maxSeqLen - spec.maxNewTokens;
    if (room < 2) {
      throw new RoleError(
        `Cannot rewrite with the assistant: maxNewTokens ${spec.maxNewTokens} leaves no room for a prompt in ` +
          `its ${maxSeqLen} positions`,
      );
    }
    // Past the context the start is cut (a BOS kept): the correct solution and the instruction sit at the end.
    ids = keepEnd(ids, room, codec.tokenizer.bosId !== null && ids[0] === codec.tokenizer.bosId ? 1 : 0);
    const generation = await generator.generate(Array.from({ length: spec.samples }, () => ids), {
      maxNewTokens: spec.maxNewTokens,
      temperature: spec.temperature,
      seed,
      stopTokens: codec.stopTokens,
    });
    return generation.tokens.map((tokens) => ({
      text: cleanup(codec.tokenizer.decode(tokens)),
      strategy: "assistant",
    }));
  }

  /** Calls served and where this actor runs. */
  info(): { calls: number; pid: number } {
    return { calls: this.#calls, pid: Deno.pid };
  }

  #load() {
    this.#loaded ??= (async () => {
      const config = configOf(this.#spec.model);
      const codec = await loadPromptCodec(this.#spec.model, config);
      const runtime = new ModelRuntime(config, { name: "assistant", session: actorSession() });
      runtime.setWeights(await initialWeights(this.#spec.model, config));
      return { generator: new Generator(runtime), codec, maxSeqLen: config.maxPositionEmbeddings };
    })();
    // A failed load is retried on the next call rather than cached.
    this.#loaded.catch(() => this.#loaded = undefined);
    return this.#loaded;
  }
}

// The model continues after the opening tag; whatever it writes past a closing tag is not part of the rewrite.
function cleanup(text: string): string {
  const end = text.indexOf("</wrong_solution>");
  return (end < 0 ? text : text.slice(0, end)).trim();
}

registerActor(AssistantRewriter, {
  methods: { rewrite: { idempotent: true, args: INPUT }, info: { idempotent: true } },
});
