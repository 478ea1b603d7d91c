import assert from "node:assert/strict";
import { ConfigError } from "../../shared/errors.ts";
import { type LineChartSpec, lineChartSvg, niceTicks, writeLineChart } from "./plot.ts";

function isNice(step: number): boolean {
  const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
  return [1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-6);
}

function attr(tag: string, name: string): number {
  const match = new RegExp(`\\s${name}="([^"]+)"`).exec(tag);
  assert.ok(match, `attribute ${name} in ${tag}`);
  return Number(match[1]);
}

function plotArea(svg: string) {
  const rect = /<rect class="plot-area"[^>]*>/.exec(svg)![0];
  const x = attr(rect, "x");
  const y = attr(rect, "y");
  return { left: x, top: y, right: x + attr(rect, "width"), bottom: y + attr(rect, "height") };
}

function seriesPoints(svg: string, name: string): Array<[number, number]> {
  const lines = [...svg.matchAll(new RegExp(`<polyline class="series" data-series="${name}" points="([^"]*)"`, "g"))];
  return lines.flatMap((m) => m[1]!.split(" ").map((p) => p.split(",").map(Number) as [number, number]));
}

function ticks(svg: string, axis: "x" | "y"): number[] {
  return [...svg.matchAll(new RegExp(`class="tick ${axis}" data-value="([^"]+)"`, "g"))].map((m) => Number(m[1]));
}

const SPEC: LineChartSpec = {
  title: "Training reward <rule & cooper>",
  xLabel: "step",
  yLabel: "mean reward",
  series: [
    { name: "rule", points: Array.from({ length: 50 }, (_, i) => [i * 3, 0.2 + i * 0.013] as [number, number]) },
    { name: "cooper", points: [[0, 0.1], [40, 0.55], [90, NaN], [147, 0.81]] },
  ],
};

Deno.test("niceTicks - steps are 1, 2 or 5 × 10^k and cover the data", () => {
  for (const [lo, hi] of [[0, 1], [0.13, 0.87], [-3.2, 17.9], [0, 147], [1234, 98765], [0.001, 0.0042], [5, 5]]) {
    const t = niceTicks(lo!, hi!);
    assert.ok(t.length >= 2 && t.length <= 12, `tick count for [${lo}, ${hi}]: ${t}`);
    assert.ok(t[0]! <= lo! && t[t.length - 1]! >= hi!, `covers [${lo}, ${hi}]: ${t}`);
    const step = t[1]! - t[0]!;
    assert.ok(isNice(step), `nice step ${step} for [${lo}, ${hi}]`);
    for (let i = 1; i < t.length; i++) assert.ok(Math.abs(t[i]! - t[i - 1]! - step) < step * 1e-9, "even spacing");
  }
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 147), [0, 50, 100, 150]);
  assert.throws(() => niceTicks(0, Infinity), RangeError);
});

Deno.test("lineChartSvg - a standalone SVG with title, labels, legend and escaped text", () => {
  const svg = lineChartSvg(SPEC);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.ok(svg.includes("Training reward &lt;rule &amp; cooper&gt;"));
  assert.ok(!svg.includes("<rule"));
  assert.match(svg, /class="x-label"[^>]*>step</);
  assert.match(svg, /class="y-label"[^>]*>mean reward</);
  const legend = [...svg.matchAll(/<g class="legend-item" data-series="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(legend, ["rule", "cooper"]);
  const strokes = [...svg.matchAll(/<polyline class="series" data-series="[^"]+"[^>]*stroke="([^"]+)"/g)].map((m) =>
    m[1]
  );
  assert.notEqual(strokes[0], strokes[strokes.length - 1], "series get different colours");
});

Deno.test("lineChartSvg - every point maps inside the axes, ordered like the data", () => {
  const svg = lineChartSvg(SPEC);
  const area = plotArea(svg);
  for (const name of ["rule", "cooper"]) {
    const points = seriesPoints(svg, name);
    assert.ok(points.length > 0);
    for (const [x, y] of points) {
      assert.ok(x >= area.left && x <= area.right, `${name} x=${x} inside [${area.left}, ${area.right}]`);
      assert.ok(y >= area.top && y <= area.bottom, `${name} y=${y} inside [${area.top}, ${area.bottom}]`);
    }
  }
  const rule = seriesPoints(svg, "rule");
  for (let i = 1; i < rule.length; i++) {
    assert.ok(rule[i]![0] > rule[i - 1]![0], "x grows left to right");
    assert.ok(rule[i]![1] < rule[i - 1]![1], "larger y is drawn higher (smaller SVG y)");
  }
  // The outer ticks sit on the plot edges.
  const xt = ticks(svg, "x");
  const yt = ticks(svg, "y");
  assert.deepEqual([xt[0], xt[xt.length - 1]], [0, 150]);
  assert.ok(yt[0]! <= 0.1 && yt[yt.length - 1]! >= 0.837);
});

Deno.test("lineChartSvg - a non-finite point breaks the line instead of breaking the scale", () => {
  const svg = lineChartSvg(SPEC);
  const cooper = [...svg.matchAll(/<polyline class="series" data-series="cooper"/g)];
  assert.equal(cooper.length, 2, "two segments around the NaN");
  assert.ok(!svg.includes("NaN"));
});

Deno.test("lineChartSvg - forced domain keeps ticks inside it", () => {
  const svg = lineChartSvg({ ...SPEC, yDomain: [0, 1] });
  assert.deepEqual(ticks(svg, "y"), [0, 0.2, 0.4, 0.6, 0.8, 1]);
});

Deno.test("lineChartSvg - empty series and bad specs", () => {
  const empty = lineChartSvg({ title: "empty", xLabel: "x", yLabel: "y", series: [] });
  assert.match(empty, /<\/svg>/);
  assert.throws(
    () => lineChartSvg({ ...SPEC, series: [{ name: "bad", points: [[1, "2" as unknown as number]] }] }),
    (e) => e instanceof ConfigError && /series\[0\]\.points\[0\]/.test(e.message),
  );
  assert.throws(() => lineChartSvg({ ...SPEC, yDomain: [1, 0] }), /yDomain/);
});

Deno.test("writeLineChart - writes the file, creating folders", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-plot-" });
  try {
    const path = `${dir}/plots/reward.svg`;
    await writeLineChart(path, SPEC);
    assert.equal(await Deno.readTextFile(path), lineChartSvg(SPEC));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
