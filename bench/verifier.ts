/**
 * `./coop bench verifier`: rule-verifier throughput and latency on a mix of GSM8K-style responses (synthetic task
 * solutions, right and wrong, with `####` or a prose final line) and MATH-style ones (`\boxed{}` answers of every
 * class in the verifier's test table, after a few lines of working). Reports verifications/s, p50/p99 latency and
 * the share of calls that hit the deadline, for the new verifier and, in the same run, the previous one (loaded
 * from git at {@link BASELINE_COMMIT}, the last commit before the rewrite); plus both verifiers' agreement with the
 * table's expected verdicts and their false positives on it. Writes bench/out/verifier.json.
 */
import { parseArgs } from "node:util";
import { generateTasks } from "../rl/mod.ts";
import { verify, warmVerifier } from "../rl/verify/mod.ts";
import { CASES } from "../rl/verify/cases.ts";
import { Rng } from "../shared/mod.ts";
import { columns, printTable, summarize, writeBenchJson } from "./report.ts";

/** The commit whose rl/verifier.ts is the baseline (regex extraction, last-number fallback, text equality). */
export const BASELINE_COMMIT = "2811782";

type VerifyFn = (response: string, reference: string) => { verdict: string; timedOut?: boolean };

/** The benchmark's response/reference mix, deterministic in `seed`. */
export function verifierMix(count: number, seed = 1): [string, string][] {
  const rng = new Rng(seed);
  const tasks = generateTasks(200, { levels: [1, 2, 3], seed });
  const rows = Object.values(CASES).flat().filter(([, ref]) => ref.trim() !== "");
  const out: [string, string][] = [];
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) {
      const task = rng.pick(tasks);
      const wrong = rng.int(0, 2) === 0;
      const answer = wrong ? String(Number(task.answer) + rng.int(1, 9)) : task.answer;
      const body = task.solution!.replace(/####.*$/, "");
      out.push([rng.int(0, 3) === 0 ? `${body}\nSo she has ${answer} left.` : `${body}#### ${answer}`, task.answer]);
    } else {
      const [response, reference] = rng.pick(rows);
      out.push([`We simplify step by step.\nThus $y = 2$ and so\n${response}`, reference]);
    }
  }
  return out;
}

async function baseline(): Promise<VerifyFn | string> {
  const dir = await Deno.makeTempDir({ prefix: "coop-bench-verifier-" });
  for (const file of ["verifier.ts", "rational.ts"]) {
    const out = await new Deno.Command("git", { args: ["show", `${BASELINE_COMMIT}:rl/${file}`], stdout: "piped" })
      .output().catch(() => undefined);
    if (!out?.success) return `git show ${BASELINE_COMMIT}:rl/${file} failed (not a git checkout?)`;
    await Deno.writeFile(`${dir}/${file}`, out.stdout);
  }
  return (await import(`file://${dir}/verifier.ts`)).verify as VerifyFn;
}

function measure(fn: VerifyFn, mix: [string, string][]) {
  const times: number[] = [];
  let timeouts = 0;
  const start = performance.now();
  for (const [response, reference] of mix) {
    const t = performance.now();
    if (fn(response, reference).timedOut) timeouts++;
    times.push((performance.now() - t) * 1000);
  }
  const seconds = (performance.now() - start) / 1000;
  const s = summarize(times);
  return { perS: mix.length / seconds, p50Us: s.p50, p99Us: s.p99, maxUs: s.max, timeoutShare: timeouts / mix.length };
}

function tableScore(fn: VerifyFn) {
  const rows = Object.values(CASES).flat();
  let agree = 0;
  let falsePositives = 0;
  for (const [response, reference, expected] of rows) {
    const verdict = fn(response, reference).verdict;
    if (verdict === expected) agree++;
    if (verdict === "correct" && expected !== "correct") falsePositives++;
  }
  return { tableAgreement: agree / rows.length, tableFalsePositives: falsePositives, tableRows: rows.length };
}

/** Runs the suite; returns the JSON written. */
export async function runVerifierBench(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({ args, options: { count: { type: "string" }, quick: { type: "boolean" } } });
  const count = Number(values.count ?? (values.quick ? 2000 : 20000));
  const mix = verifierMix(count);
  const old = await baseline();
  const fns: [string, VerifyFn][] = [["new", verify]];
  if (typeof old === "string") console.log(`baseline skipped: ${old}`);
  else fns.push(["old", old]);
  const rows: Record<string, unknown>[] = [];
  type Result = ReturnType<typeof measure> & ReturnType<typeof tableScore> & { gsm8kPerS: number; mathPerS: number };
  const results: Record<string, Result> = {};
  for (const [name, fn] of fns) {
    if (name === "new") warmVerifier(); // one-time engine start-up (1-2 s), outside the timing
    measure(fn, mix.slice(0, 500));
    // The whole mix first (new answers are parsed once, as in training); then each half again, parses cached.
    const all = measure(fn, mix);
    const gsm8k = measure(fn, mix.filter((_, i) => i % 2 === 0)).perS;
    const math = measure(fn, mix.filter((_, i) => i % 2 === 1)).perS;
    results[name] = { ...all, gsm8kPerS: gsm8k, mathPerS: math, ...tableScore(fn) };
    rows.push({ verifier: name, ...results[name] });
  }
  printTable(
    `Verifier: ${count} verifications (half GSM8K-style, half MATH-style)`,
    rows,
    columns(`
    verifier | perS: verifs/s | gsm8kPerS: GSM8K/s (warm) | mathPerS: MATH/s (warm) | p50Us: p50 (µs) | p99Us: p99 (µs)
    maxUs: max (µs) | timeoutShare: timeouts | tableAgreement: table agreement | tableFalsePositives: table false +`),
  );
  const ratio = results.old ? results.new!.perS / results.old.perS : undefined;
  if (ratio !== undefined) console.log(`new/old throughput ratio: ${ratio.toFixed(3)}`);
  const data = {
    count,
    baseline: typeof old === "string" ? { skipped: old } : { commit: BASELINE_COMMIT },
    verifications_per_s: results.new!.perS,
    p99_us: results.new!.p99Us,
    timeout_share: results.new!.timeoutShare,
    throughput_ratio_vs_old: ratio,
    results,
  };
  const path = await writeBenchJson("verifier", data);
  console.log(`wrote ${path}`);
  return data;
}
