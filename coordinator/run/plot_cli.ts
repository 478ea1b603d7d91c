/**
 * `coop plot RUN [--metrics a,b] [--out FILE.svg] [--api URL]`: a run's curves as a standalone SVG (plot.ts).
 * RUN is a run id (its history comes from the control API) or a `metrics.jsonl` file the run's `logging.jsonl`
 * wrote (no cluster needed). Metrics default to reward, verifier accuracy and RM agreement; a metric the run never
 * reported is named in the error, not drawn empty. `--out x.png` rasterizes the SVG in headless Chromium (Debian's
 * `chromium`, or COOP_CHROMIUM), the one PNG encoder already on a machine that runs the dashboard test.
 */
import { parseArgs } from "node:util";
import { ConfigError } from "../../shared/mod.ts";
import { lineChartSvg, type Series, writeLineChart } from "./plot.ts";
import { ApiClient } from "./api_client.ts";
import type { MetricPoint } from "./job.ts";

const DEFAULT_METRICS = ["reward_mean", "train_accuracy", "eval_accuracy", "rm_sample_accuracy"];
const USAGE = "usage: coop plot RUN_ID|metrics.jsonl [--metrics a,b] [--out FILE.svg|FILE.png] [--api URL] [--json]";
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
];

/** The SVG as a PNG, screenshot by headless Chromium. */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  const executablePath = Deno.env.get("COOP_CHROMIUM") ?? "/usr/bin/chromium";
  try {
    await Deno.stat(executablePath);
  } catch {
    throw new ConfigError(
      `A PNG needs Chromium at ${executablePath} (apt-get install -y chromium); use --out FILE.svg`,
    );
  }
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS });
  try {
    const page = await browser.newPage();
    await page.setContent(`<!doctype html><body style="margin:0">${svg}</body>`);
    return await page.locator("svg").first().screenshot({ type: "png" });
  } finally {
    await browser.close();
  }
}

/** Runs `coop plot`; returns the exit code. */
export async function plotCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      api: { type: "string" },
      metrics: { type: "string" },
      out: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(`${USAGE}\n  draws a run's metric curves as SVG (from the API, or from a metrics.jsonl file)`);
    return 0;
  }
  const run = positionals[0];
  if (run === undefined) {
    console.error(USAGE);
    return 2;
  }
  const points = run.endsWith(".jsonl") ? await readJsonl(run) : await new ApiClient(
    values.api ?? Deno.env.get("COOP_API_URL") ?? "http://127.0.0.1:8470",
  ).metrics(run);
  const wanted = values.metrics?.split(",").map((m) => m.trim()).filter(Boolean);
  const series = curves(points, wanted ?? DEFAULT_METRICS, wanted !== undefined);
  const name = run.endsWith(".jsonl") ? run.slice(0, -".jsonl".length) : run;
  const out = values.out ?? `${name.split("/").pop()}.svg`;
  const spec = { title: `run ${name.split("/").pop()}`, xLabel: "step", yLabel: "value", series };
  if (out.endsWith(".png")) await Deno.writeFile(out, await svgToPng(lineChartSvg(spec)));
  else await writeLineChart(out, spec);
  const summary = { out, metrics: series.map((s) => s.name), points: points.length };
  console.log(
    values.json ? JSON.stringify(summary) : `wrote ${out} (${summary.metrics.join(", ")}; ${points.length} steps)`,
  );
  return 0;
}

/** The series of `metrics` in `points`; a metric with no finite value is an error when asked for explicitly. */
export function curves(points: MetricPoint[], metrics: string[], strict: boolean): Series[] {
  const series: Series[] = [];
  for (const metric of metrics) {
    const line = points.map((p): [number, number] => [p.step, p[metric] ?? Number.NaN]);
    if (line.some(([, y]) => Number.isFinite(y))) series.push({ name: metric, points: line });
    else if (strict) {
      const known = [...new Set(points.flatMap((p) => Object.keys(p)))].filter((k) => k !== "step" && k !== "time");
      throw new ConfigError(
        `The run has no metric "${metric}"; it reports: ${known.sort().join(", ") || "nothing yet"}`,
      );
    }
  }
  if (series.length === 0) throw new ConfigError("The run has none of the default metrics yet; pass --metrics");
  return series;
}

/** A metrics.jsonl file, one point per step (a resumed run's later line for a step wins). */
export async function readJsonl(path: string): Promise<MetricPoint[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`Cannot read "${path}": ${(error as Error).message}`);
  }
  const byStep = new Map<number, MetricPoint>();
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let point: MetricPoint;
    try {
      point = JSON.parse(line, (_k, v) => (v === null ? Number.NaN : v));
    } catch (error) {
      throw new ConfigError(`${path}:${i + 1}: not JSON (${(error as Error).message})`);
    }
    if (typeof point?.step !== "number") throw new ConfigError(`${path}:${i + 1}: no "step"`);
    byStep.set(point.step, point);
  });
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}
