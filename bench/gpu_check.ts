/**
 * GPU proof in one table (run by bench/gpu_check.sh on a machine with an NVIDIA GPU): parity with transformers on
 * every reference fixture through the `cuda` provider, then one compiled training step (loss, backward, AdamW) and
 * KV-cache generation on `cuda` next to the same work on `cpu` — same loss, same greedy tokens, and the time of
 * each. `deno run -A bench/gpu_check.ts [--provider cpu]` (cpu: the same checks, to try the script without a GPU).
 */
import { parseArgs } from "node:util";
import { Generator } from "../engine/generate/mod.ts";
import { initWeights, ModelRuntime } from "../engine/models/mod.ts";
import { checkParity, hfFixturesDir } from "../engine/parity/mod.ts";
import { lmTrainingLoss } from "../engine/score/mod.ts";
import type { SessionOptions } from "../engine/session/mod.ts";
import { Trainer } from "../engine/train/mod.ts";
import { tensor } from "../shared/tensor.ts";
import { tinyDecoderConfig } from "../tests/fixtures/tiny_decoder.ts";
import { printTable, type Row } from "./report.ts";

const { values } = parseArgs({ args: Deno.args, options: { provider: { type: "string", default: "cuda" } } });
const provider = values.provider as "cuda" | "cpu";
const device: SessionOptions = { executionProvider: provider };
const host: SessionOptions = { executionProvider: "cpu", intraOpThreads: 2 };
const rows: Row[] = [];
let failed = 0;
const row = (check: string, value: string, ok: boolean, seconds: number, detail = "") => {
  if (!ok) failed++;
  rows.push({ check, result: ok ? "ok" : "FAIL", value, seconds, detail });
};
const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const start = performance.now();
  const value = await fn();
  return [value, (performance.now() - start) / 1000];
};

for (const name of ["qwen2-tiny", "llama-tiny", "qwen2-rm-tiny", "qwen2-tiny-bf16"]) {
  const [report, s] = await timed(() => checkParity(`${hfFixturesDir()}/${name}`, { session: device }));
  const worst = report.rows.filter((r) => !r.ok).map((r) => r.name).join(", ");
  row(`parity ${name} (${provider})`, `${report.rows.length} quantities`, report.ok, s, worst);
}

// A `small`-sized Qwen2 (the engine bench's model family): one step on each provider from the same weights.
const config = tinyDecoderConfig({
  model_type: "qwen2",
  vocab_size: 4096,
  hidden_size: 256,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  intermediate_size: 1024,
  rope_theta: 1000000,
  rms_norm_eps: 1e-6,
  max_position_embeddings: 512,
  eos_token_id: 0,
});
const b = 8, t = 128;
const ids = Array.from({ length: b * t }, (_, i) => 1 + ((i * 7919) % (config.vocabSize - 1)));
const batch = { input_ids: tensor("int64", [b, t], ids), attention_mask: tensor("int64", [b, t], ids.map(() => 1)) };
const step = async (session: SessionOptions) => {
  const trainer = new Trainer({
    name: "gpu-check",
    loss: lmTrainingLoss(config),
    params: Object.fromEntries(initWeights(config, { seed: 1 })),
    adamw: { weightDecay: 0.01, maxGradNorm: 1 },
    session,
  });
  await trainer.step([batch], { lr: 1e-3 }); // compile + warm up
  const [report, s] = await timed(() => trainer.step([batch], { lr: 1e-3 }));
  return { loss: report.loss, s };
};
const onDevice = await step(device);
const onHost = await step(host);
const lossOk = Math.abs(onDevice.loss - onHost.loss) <= 1e-3 * Math.abs(onHost.loss);
row(
  `train step ${b}x${t} (${provider})`,
  `loss ${onDevice.loss.toFixed(5)} vs cpu ${onHost.loss.toFixed(5)}`,
  lossOk,
  onDevice.s,
  `cpu ${onHost.s.toFixed(2)} s; ${((b * t) / onDevice.s).toFixed(0)} tok/s`,
);

const generate = async (session: SessionOptions) => {
  const runtime = new ModelRuntime(config, { name: "gpu-check", session });
  runtime.setWeights(initWeights(config, { seed: 1 }));
  const prompts = Array.from({ length: 4 }, (_, r) => ids.slice(r * 32, r * 32 + 32));
  const generator = new Generator(runtime);
  await generator.generate(prompts, { maxNewTokens: 4, stopTokens: [] });
  return await timed(() => generator.generate(prompts, { maxNewTokens: 64, stopTokens: [] }));
};
const [gpuTokens, gpuS] = await generate(device);
const [cpuTokens, cpuS] = await generate(host);
const same = JSON.stringify(gpuTokens.tokens) === JSON.stringify(cpuTokens.tokens);
row(
  `greedy generation 4x64 (${provider})`,
  same ? "tokens equal cpu" : "tokens differ from cpu",
  same,
  gpuS,
  `cpu ${cpuS.toFixed(2)} s; ${(256 / gpuS).toFixed(0)} tok/s`,
);

printTable(`GPU check: ${provider} provider`, rows, [
  "check",
  "result",
  "value",
  { key: "seconds", header: "time (s)" },
  "detail",
]);
if (failed > 0) console.error(`${failed} check(s) failed`);
Deno.exit(failed > 0 ? 1 : 0);
