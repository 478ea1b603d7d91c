/**
 * Where a training step's time goes: `deno run -A bench/engine_profile.ts [--hidden 896] [--layers 2]
 * [--vocab 32768] [--heads 14] [--kv-heads 2] [--mlp 4864] [--batch 2] [--seq 128] [--threads 2] [--steps 3]`.
 * Runs the in-place training step (gradient graph + JS AdamW) of a Qwen2-shaped decoder with onnxruntime's profiler
 * on, then prints the graph time by op type and the slowest nodes (MatMul/Gemm with their GFLOP/s), next to the
 * step's wall time and the AdamW share. Not part of `./coop bench`: a tool for finding slow ops.
 */
import * as ort from "onnxruntime-node";
import process from "node:process";
import { parseDecoderConfig } from "../engine/io/mod.ts";
import { initWeights } from "../engine/models/params.ts";
import { lmTrainingLoss } from "../engine/score/mod.ts";
import { Trainer } from "../engine/train/mod.ts";
import { tensor } from "../shared/tensor.ts";
import { printTable } from "./report.ts";

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: {
    op_name?: string;
    input_type_shape?: Record<string, number[]>[];
    output_type_shape?: Record<string, number[]>[];
  };
}

/**
 * FLOPs of a MatMul/Gemm/FusedMatMul node from its profiled shapes: 2·size(out)·K, where K is what A holds per
 * output row (size(A) / (size(out) / N)), which is right whether or not A is transposed; a broadcast A of lower rank
 * falls back to its last dim.
 */
function matmulFlops(e: ProfileEvent): number {
  const out = Object.values(e.args?.output_type_shape?.[0] ?? {})[0];
  const a = Object.values(e.args?.input_type_shape?.[0] ?? {})[0];
  if (out === undefined || a === undefined || out.length < 2) return 0;
  const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
  const rows = size(out) / out[out.length - 1]!;
  const k = a.length === out.length ? size(a) / rows : a[a.length - 1]!;
  return 2 * size(out) * k;
}

function summarize(file: string, steps: number): void {
  const events = (JSON.parse(Deno.readTextFileSync(file)) as ProfileEvent[]).filter((e) =>
    e.cat === "Node" && e.name.endsWith("_kernel_time")
  );
  const byOp = new Map<string, { ms: number; n: number; flops: number }>();
  const byNode = new Map<string, { op: string; ms: number; flops: number; shapes: string }>();
  for (const e of events) {
    const op = e.args?.op_name ?? "?";
    const flops = /MatMul|Gemm/.test(op) ? matmulFlops(e) : 0;
    const o = byOp.get(op) ?? { ms: 0, n: 0, flops: 0 };
    o.ms += e.dur / 1000 / steps;
    o.n += 1 / steps;
    o.flops += flops / steps;
    byOp.set(op, o);
    const key = e.name.replace(/_kernel_time$/, "");
    const shapes = (e.args?.input_type_shape ?? []).map((s) => JSON.stringify(Object.values(s)[0])).join(" ");
    const nd = byNode.get(key) ?? { op, ms: 0, flops: 0, shapes };
    nd.ms += e.dur / 1000 / steps;
    nd.flops += flops / steps;
    byNode.set(key, nd);
  }
  const total = [...byOp.values()].reduce((s, o) => s + o.ms, 0);
  printTable(
    `graph time by op type (ms per step; total ${total.toFixed(0)} ms)`,
    [...byOp].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20).map(([op, o]) => ({
      op,
      nodes: o.n,
      ms: o.ms,
      share: o.ms / total,
      "GFLOP/s": o.flops > 0 ? o.flops / o.ms / 1e6 : "-",
    })),
  );
  printTable(
    "slowest nodes (ms per step)",
    [...byNode].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30).map((
      [name, n],
    ) => ({
      node: name.slice(0, 40),
      op: n.op,
      ms: n.ms,
      "GFLOP/s": n.flops > 0 ? n.flops / n.ms / 1e6 : "-",
      inputs: n.shapes.slice(0, 60),
    })),
  );
}

if (import.meta.main) {
  ort.env.logLevel = "error";
  const a: Record<string, string | number> = {
    hidden: 896,
    layers: 2,
    vocab: 32768,
    heads: 14,
    "kv-heads": 2,
    mlp: 4864,
    batch: 2,
    seq: 128,
    threads: 2,
    steps: 3,
    update: "inPlace",
  };
  for (let i = 0; i + 1 < Deno.args.length; i += 2) a[Deno.args[i]!.replace(/^--/, "")] = Deno.args[i + 1]!;
  const config = parseDecoderConfig({
    model_type: "qwen2",
    architectures: ["Qwen2ForCausalLM"],
    vocab_size: Number(a.vocab),
    hidden_size: Number(a.hidden),
    num_hidden_layers: Number(a.layers),
    num_attention_heads: Number(a.heads),
    num_key_value_heads: Number(a["kv-heads"]),
    intermediate_size: Number(a.mlp),
    tie_word_embeddings: true,
    rope_theta: 1_000_000,
    rms_norm_eps: 1e-6,
    pad_token_id: 0,
  });
  const prefix = await Deno.makeTempFile({ prefix: "coop-profile-" });
  const trainer = new Trainer({
    loss: lmTrainingLoss(config),
    params: Object.fromEntries(initWeights(config, { seed: 1 })),
    adoptParams: true,
    adamw: { weightDecay: 0.01, maxGradNorm: 1 },
    session: { intraOpThreads: Number(a.threads), profilePrefix: prefix },
    update: a.update as "inPlace" | "graph",
    name: "profile",
  });
  const [b, t] = [Number(a.batch), Number(a.seq)];
  const ids = Array.from({ length: b * t }, (_, i) => 1 + (i * 7919) % (config.vocabSize - 1));
  const batch = {
    input_ids: tensor("int64", [b, t], ids),
    attention_mask: tensor("int64", [b, t], new Array(b * t).fill(1)),
  };
  const steps = Number(a.steps);
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < steps + 1; i++) {
    const start = performance.now();
    const c0 = process.cpuUsage();
    await trainer.step(batch, { lr: 1e-4 });
    times.push(performance.now() - start);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
  console.log(
    `step ms: ${list(times)}; CPU ms: ${list(cpu)} (the first includes compiling; load ${Deno.loadavg()[0]})`,
  );
  await trainer.release();
  const dir = prefix.slice(0, prefix.lastIndexOf("/"));
  const base = prefix.slice(prefix.lastIndexOf("/") + 1);
  const files = [...Deno.readDirSync(dir)].filter((f) => f.name.startsWith(base) && f.name.endsWith(".json"));
  for (const f of files) {
    summarize(`${dir}/${f.name}`, steps + 1);
    await Deno.remove(`${dir}/${f.name}`);
  }
  await Deno.remove(prefix);
}
