import { ok } from "node:assert";
import { gradients } from "../engine/autodiff/mod.ts";
import { Graph, tensorOf, toOnnx } from "../engine/graph/mod.ts";
import { createSession } from "../engine/session/mod.ts";
import type { Tensor } from "../shared/tensor.ts";
import { grpoLoss, type GrpoLossOptions } from "./grpo.ts";
import { bceLossGraph, grpoLossGraph, pairwiseLossGraph } from "./losses.ts";
import { bceLoss, pairwiseLoss } from "./pairs.ts";
import { Rng } from "../shared/mod.ts";

function close(actual: number, expected: number, tol: number, what: string): void {
  ok(Math.abs(actual - expected) <= tol * (1 + Math.abs(expected)), `${what}: expected ${expected}, got ${actual}`);
}

async function run(g: Graph, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const session = await createSession(toOnnx(g), { intraOpThreads: 1 });
  try {
    return await session.runTensors(feeds);
  } finally {
    await session.release();
  }
}

const rows = (flat: readonly number[], t: number) =>
  Array.from({ length: flat.length / t }, (_, b) => [...flat.slice(b * t, (b + 1) * t)]);

// A batch whose ratios land in every branch: inside the clip range, clipped above/below, and past the dual clip.
function grpoBatch(seed: number, b = 4, t = 5) {
  const rng = new Rng(seed);
  const old = Array.from({ length: b * t }, () => -0.3 - 2 * rng.next());
  const logProbs = old.map((o) => o + (rng.next() - 0.5) * 2.6);
  const ref = old.map((o) => o + (rng.next() - 0.5) * 0.8);
  const mask = Array.from({ length: b * t }, (_, i) => (i % t < t - (i / t | 0) % 3 ? 1 : 0));
  const advantages = Array.from({ length: b }, (_, i) => (i % 2 === 0 ? 1.3 : -0.9) * (1 + i / 4));
  return { b, t, old, logProbs, ref, mask, advantages };
}

Deno.test("grpoLossGraph - value and dLoss/dlogp match the plain-number reference through onnxruntime", async () => {
  for (const options of [{}, { klCoef: 0.1, clipRatio: 0.1, clipRatioC: 2 }] as GrpoLossOptions[]) {
    const { b, t, old, logProbs, ref, mask, advantages } = grpoBatch(7);
    const g = new Graph("grpo");
    const syms = {
      logProbs: g.input("logp", "float32", [b, t]),
      oldLogProbs: g.input("old", "float32", [b, t]),
      refLogProbs: g.input("ref", "float32", [b, t]),
      advantages: g.input("adv", "float32", [b]),
      mask: g.input("mask", "float32", [b, t]),
    };
    const out = grpoLossGraph(syms, options);
    g.output("loss", out.loss);
    g.output("kl", out.kl);
    g.output("clip", out.clipFraction);
    g.output("clip_lower", out.clipFractionLower);
    g.output("grad", gradients(out.loss, [syms.logProbs])[0]!);
    const result = await run(g, {
      logp: tensorOf("float32", [b, t], logProbs),
      old: tensorOf("float32", [b, t], old),
      ref: tensorOf("float32", [b, t], ref),
      adv: tensorOf("float32", [b], advantages),
      mask: tensorOf("float32", [b, t], mask),
    });
    const plain = (lp: readonly number[]) =>
      grpoLoss({
        logProbs: rows(lp, t),
        oldLogProbs: rows(old, t),
        refLogProbs: rows(ref, t),
        advantages,
        mask: rows(mask, t),
      }, options);
    const reference = plain(logProbs);
    ok(reference.clipFraction > 0 && reference.clipFractionLower > 0, "the batch must exercise both clips");
    close(result.loss!.data[0] as number, reference.loss, 1e-5, "loss");
    close(result.kl!.data[0] as number, reference.kl, 1e-5, "kl");
    close(result.clip!.data[0] as number, reference.clipFraction, 1e-6, "clipFraction");
    close(result.clip_lower!.data[0] as number, reference.clipFractionLower, 1e-6, "clipFractionLower");
    // Central differences of the float64 reference; no perturbation crosses a clip boundary at this step size.
    const h = 1e-6;
    for (let i = 0; i < b * t; i++) {
      const up = [...logProbs];
      const down = [...logProbs];
      up[i]! += h;
      down[i]! -= h;
      const numeric = (plain(up).loss - plain(down).loss) / (2 * h);
      close(result.grad!.data[i] as number, numeric, 1e-4, `grad[${i}]`);
    }
  }
});

Deno.test("pairwiseLossGraph and bceLossGraph - match the references, masks included, stable at large margins", async () => {
  const sPos = [0.5, -1, 30, 2, 0];
  const sNeg = [0, 0.5, -30, 2.5, 0];
  const mask = [1, 1, 1, 0, 1];
  const labels = [1, 0, 1, 0.5, 0];
  const g = new Graph("rm");
  const pos = g.input("pos", "float32", [5]);
  const neg = g.input("neg", "float32", [5]);
  const m = g.input("mask", "float32", [5]);
  const y = g.input("labels", "float32", [5]);
  const pairwise = pairwiseLossGraph(pos, neg, m);
  g.output("pairwise", pairwise);
  g.output("pairwise_all", pairwiseLossGraph(pos, neg));
  g.output("bce", bceLossGraph(pos, y, m));
  g.output("bce_all", bceLossGraph(pos, y));
  g.output("grad_pos", gradients(pairwise, [pos])[0]!);
  const out = await run(g, {
    pos: tensorOf("float32", [5], sPos),
    neg: tensorOf("float32", [5], sNeg),
    mask: tensorOf("float32", [5], mask),
    labels: tensorOf("float32", [5], labels),
  });
  const bools = mask.map((v) => v === 1);
  close(out.pairwise!.data[0] as number, pairwiseLoss(sPos, sNeg, bools), 1e-6, "pairwise");
  close(out.pairwise_all!.data[0] as number, pairwiseLoss(sPos, sNeg), 1e-6, "pairwise_all");
  close(out.bce!.data[0] as number, bceLoss(sPos, labels, bools), 1e-6, "bce");
  close(out.bce_all!.data[0] as number, bceLoss(sPos, labels), 1e-6, "bce_all");
  // d/ds+ of mean softplus(s- − s+) = −σ(s- − s+)/n over valid pairs; 0 where masked.
  const n = mask.reduce((a, v) => a + v, 0);
  sPos.forEach((sp, i) => {
    const expected = mask[i] ? -1 / (1 + Math.exp(-(sNeg[i]! - sp))) / n : 0;
    close(out.grad_pos!.data[i] as number, expected, 1e-6, `grad_pos[${i}]`);
  });
});
