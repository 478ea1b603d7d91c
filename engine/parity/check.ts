/**
 * Parity checker for any folder in the reference-fixture format: loads the model from the folder, runs its inputs
 * through our graphs and compares each quantity with the reference within the README's tolerances (logits/scores
 * 1e-4 relative, loss 1e-5 absolute, gradients 1e-3 relative per tensor, greedy tokens exact or a tie).
 */
import { type Tensor, tensor } from "../../shared/mod.ts";
import { gradients } from "../autodiff/mod.ts";
import { argmax, Generator } from "../generate/mod.ts";
import { Graph, nn, op, toOnnx } from "../graph/mod.ts";
import { causalMask, Decoder, ModelRuntime } from "../models/mod.ts";
import { hiddenOf, pairMask, pairwiseLoss, positionsFromMask } from "../score/mod.ts";
import { createSession, type SessionOptions } from "../session/mod.ts";
import { type Fixture, readFixture } from "./fixture.ts";

/** Default tolerances (from the fixtures' README). */
export const TOLERANCES = { logits: 1e-4, scores: 1e-4, token_logprobs: 1e-4, loss: 1e-5, grad: 1e-3, tie: 1e-4 };

/** One compared quantity. */
export interface ParityRow {
  name: string;
  /** "rel" = ‖a−b‖/‖b‖, "abs" = |a−b|, "mismatches" = greedy steps that differ without a tie. */
  metric: "rel" | "abs" | "mismatches";
  error: number;
  tolerance: number;
  ok: boolean;
  detail?: string;
}

/** The outcome of a parity check. */
export interface ParityReport {
  dir: string;
  kind: Fixture["kind"];
  rows: ParityRow[];
  ok: boolean;
}

/** Options of {@link checkParity}. */
export interface ParityOptions {
  /** Compare gradients when the folder has grads.safetensors (default true). */
  grads?: boolean;
  /** Session options (threads, execution provider). */
  session?: SessionOptions;
}

/** ‖a − b‖ / ‖b‖ over all elements (‖a‖ when b is all zeros). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i]! - expected[i]!) ** 2;
    den += expected[i]! ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

function rel(name: string, actual: Tensor | undefined, expected: Tensor, tolerance: number): ParityRow {
  if (actual === undefined || actual.size !== expected.size) {
    return { name, metric: "rel", error: Infinity, tolerance, ok: false, detail: "missing or mis-sized" };
  }
  const error = relativeError(actual.data as Float32Array, expected.data as Float32Array);
  return { name, metric: "rel", error, tolerance, ok: error <= tolerance };
}

/** Loads the folder's model and compares every reference quantity it holds. */
export async function checkParity(dir: string, options: ParityOptions = {}): Promise<ParityReport> {
  const fixture = await readFixture(dir);
  const { config, inputIds, attentionMask } = fixture;
  const b = inputIds.length;
  const t = inputIds[0]!.length;
  const causal = fixture.kind === "causal";
  const wantGrads = (options.grads ?? true) && fixture.grads !== null;

  const g = new Graph("parity");
  const model = Decoder.declare(g, config);
  const ids = g.input("input_ids", "int64", [b, t]);
  const mask = g.input("attention_mask", "int64", [b, t]);
  // Given position_ids are used as they are (a checkpoint's own inputs may not follow cumsum(mask) - 1).
  const positions = fixture.positionIds ? g.input("position_ids", "int64", [b, t]) : positionsFromMask(mask);
  const { hidden } = model.hidden({ inputIds: ids, positionIds: positions, allowed: causalMask(mask) });
  let loss;
  if (causal) {
    const logits = model.logits(hidden);
    g.output("logits", logits);
    const lp = nn.tokenLogProbs(
      op.slice(logits, { starts: [0], ends: [t - 1], axes: [1] }),
      op.slice(ids, { starts: [1], ends: [t], axes: [1] }),
    );
    g.output("token_logprobs", lp);
    loss = nn.maskedMean(op.neg(lp), pairMask(mask));
  } else {
    const scores = op.reshape(op.slice(model.scores(hidden, mask), { starts: [0], ends: [1], axes: [1] }), [b]);
    g.output("scores", scores);
    // The fixture's loss: row 0 is preferred over every other row.
    const chosen = op.expand(op.slice(scores, { starts: [0], ends: [1], axes: [0] }), [b - 1]);
    loss = pairwiseLoss(chosen, op.slice(scores, { starts: [1], ends: [b], axes: [0] }));
  }
  g.output("loss", op.reshape(loss, [1]));
  const names = [...model.params.keys()];
  if (wantGrads) {
    const grads = gradients(loss, names.map((name) => model.params.get(name)!));
    names.forEach((name, i) => g.output(`grad:${name}`, grads[i]!));
  }
  const session = await createSession(toOnnx(g), { ...options.session, name: `parity:${dir}` });
  let out: Record<string, Tensor>;
  try {
    out = await session.runTensors({
      ...Object.fromEntries(fixture.weights),
      input_ids: tensor("int64", [b, t], inputIds.flat()),
      attention_mask: tensor("int64", [b, t], attentionMask.flat()),
      ...(fixture.positionIds ? { position_ids: tensor("int64", [b, t], fixture.positionIds.flat()) } : {}),
    });
  } finally {
    await session.release();
  }

  const rows = compareOutputs(fixture, out, wantGrads ? names : []);
  if (causal && fixture.greedyNewTokens) rows.push(...await checkGreedy(fixture, options.session));
  return { dir, kind: fixture.kind, rows, ok: rows.every((row) => row.ok) };
}

/** One row per expected output in the fixture, and one per parameter in `gradNames` (empty: no gradient rows). */
function compareOutputs(fixture: Fixture, out: Record<string, Tensor>, gradNames: readonly string[]): ParityRow[] {
  const rows: ParityRow[] = [];
  for (const key of ["logits", "token_logprobs", "scores"] as const) {
    const expected = fixture.expected.get(key);
    if (expected) rows.push(rel(key, out[key], expected, TOLERANCES[key]));
  }
  const expectedLoss = fixture.expected.get("loss");
  if (expectedLoss) {
    const error = Math.abs(out.loss!.data[0] as number - (expectedLoss.data[0] as number));
    rows.push({ name: "loss", metric: "abs", error, tolerance: TOLERANCES.loss, ok: error <= TOLERANCES.loss });
  }
  for (const name of gradNames) {
    const expected = fixture.grads!.get(name);
    if (expected === undefined) {
      rows.push({
        name: `grad ${name}`,
        metric: "rel",
        error: Infinity,
        tolerance: TOLERANCES.grad,
        ok: false,
        detail: "not in grads.safetensors",
      });
    } else {
      rows.push(rel(`grad ${name}`, out[`grad:${name}`], expected, TOLERANCES.grad));
    }
  }
  return rows;
}

/**
 * Greedy generation with the KV cache against `greedy_new_tokens`. A differing token is accepted only when, with
 * the reference prefix forced, our top two logits at that step are within the tie tolerance; after the first
 * difference a row's later tokens are not compared (the continuations legitimately diverge).
 */
async function checkGreedy(fixture: Fixture, session?: SessionOptions): Promise<ParityRow[]> {
  const expected = fixture.greedyNewTokens!;
  const steps = expected[0]!.length;
  const prompts = fixture.inputIds.map((row, r) => row.filter((_, i) => fixture.attentionMask[r]![i] === 1));
  const runtime = new ModelRuntime(fixture.config, { session, name: "parity" });
  try {
    runtime.setWeights(fixture.weights);
    const generated = await new Generator(runtime).generate(prompts, { maxNewTokens: steps, stopTokens: [] });
    let mismatches = 0;
    const details: string[] = [];
    for (let r = 0; r < expected.length; r++) {
      const step = expected[r]!.findIndex((token, i) => generated.tokens[r]![i] !== token);
      if (step < 0) continue;
      const gap = await tieGap(runtime, [...prompts[r]!, ...expected[r]!.slice(0, step)], expected[r]![step]!);
      if (gap > TOLERANCES.tie) {
        mismatches++;
        details.push(
          `row ${r} step ${step}: got ${generated.tokens[r]![step]}, expected ${expected[r]![step]} (gap ${
            gap.toExponential(2)
          })`,
        );
      } else {
        details.push(`row ${r} step ${step}: tie (gap ${gap.toExponential(2)})`);
      }
    }
    return [{
      name: "greedy_new_tokens (KV cache)",
      metric: "mismatches",
      error: mismatches,
      tolerance: 0,
      ok: mismatches === 0,
      detail: details.length > 0 ? details.join("; ") : undefined,
    }];
  } finally {
    await runtime.release();
  }
}

/** Our best logit minus our logit for `token` after `prefix` (teacher-forced along the reference). */
async function tieGap(runtime: ModelRuntime, prefix: number[], token: number): Promise<number> {
  const logits = await lastLogits(runtime, prefix);
  return logits[argmax(logits)]! - logits[token]!;
}

async function lastLogits(runtime: ModelRuntime, prefix: number[]): Promise<Float32Array> {
  const t = prefix.length;
  const session = await runtime.session(`tie:${t}`, () => {
    const g = new Graph("tie");
    const model = Decoder.declare(g, runtime.config);
    const ids = g.input("input_ids", "int64", [1, t]);
    const mask = g.input("attention_mask", "int64", [1, t]);
    const hidden = op.slice(hiddenOf(model, ids, mask), { starts: [t - 1], ends: [t], axes: [1] });
    g.output("logits", model.logits(hidden));
    return g;
  });
  const out = await session.run(runtime.feeds({
    input_ids: tensor("int64", [1, t], prefix),
    attention_mask: tensor("int64", [1, t], prefix.map(() => 1)),
  }));
  return out.logits!.data as Float32Array;
}

/** Formats a report as an aligned table, one quantity per line. */
export function formatParity(report: ParityReport): string {
  const width = Math.max(...report.rows.map((row) => row.name.length), 8);
  const lines = [
    `parity ${report.dir} (${report.kind})`,
    `${"quantity".padEnd(width)}  metric      error       tolerance   result`,
  ];
  for (const row of report.rows) {
    const error = row.metric === "mismatches" ? String(row.error) : row.error.toExponential(3);
    lines.push(
      `${row.name.padEnd(width)}  ${row.metric.padEnd(10)}  ${error.padEnd(10)}  ${String(row.tolerance).padEnd(10)}  ${
        row.ok ? "ok" : "FAIL"
      }` +
        (row.detail ? `  ${row.detail}` : ""),
    );
  }
  lines.push(
    report.ok
      ? "all quantities within tolerance"
      : `${report.rows.filter((r) => !r.ok).length} quantities out of tolerance`,
  );
  return lines.join("\n");
}
