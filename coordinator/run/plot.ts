/**
 * Dependency-free line charts as standalone SVG (training reward, held-out accuracy per mode): axes with "nice"
 * ticks (1, 2, 5 × 10^k), light grid, legend, a colour-blind-friendly palette. Non-finite points break a line
 * instead of poisoning the scale.
 */

import { dirname } from "node:path";
import { ConfigError } from "../../shared/mod.ts";

/** One line of a chart. */
export interface Series {
  name: string;
  points: Array<[number, number]>;
  /** CSS colour; default from the palette by position. */
  color?: string;
}

/** What to draw. */
export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  /** Force an axis range (e.g. `[0, 1]` for accuracy); default fits the data. */
  xDomain?: [number, number];
  yDomain?: [number, number];
}

/** Okabe–Ito palette: distinguishable with the common colour-vision deficiencies. */
export const PALETTE: readonly string[] = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#D55E00",
  "#CC79A7",
  "#56B4E9",
  "#F0E442",
  "#000000",
];

const MARGIN = { top: 44, right: 170, bottom: 56, left: 72 };
// Markers make sparse curves (a few evaluation points) readable; on dense curves they are just noise.
const MAX_POINTS_WITH_MARKERS = 40;

/**
 * Nice tick values covering [min, max] with about `count` ticks (Heckbert's "nice numbers"): steps are 1, 2 or 5
 * times a power of ten, and the first/last tick are at or beyond the data.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new RangeError(`Cannot tick [${min}, ${max}]`);
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = niceStep((max - min) / Math.max(1, count - 1));
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  // Rounding each tick to the step's precision avoids 0.30000000000000004-style labels and drift.
  const decimals = stepDecimals(step);
  for (let i = 0;; i++) {
    const value = Number((first + i * step).toFixed(decimals));
    ticks.push(value);
    if (value >= max - step * 1e-9) break;
  }
  return ticks;
}

function niceStep(raw: number): number {
  const exponent = Math.floor(Math.log10(raw));
  const fraction = raw / 10 ** exponent;
  // Rounding (not ceiling) the fraction keeps the tick count near the target: 0.25 -> 0.2, not 0.5.
  const nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  return nice * 10 ** exponent;
}

function stepDecimals(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

/** Tick label text with just enough decimals for the step. */
export function formatTick(value: number, step: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6 || (abs > 0 && abs < 1e-4)) return value.toExponential(1);
  return value.toFixed(stepDecimals(step));
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function extent(spec: LineChartSpec, axis: 0 | 1): [number, number] {
  const forced = axis === 0 ? spec.xDomain : spec.yDomain;
  if (forced !== undefined) return forced;
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of spec.series) {
    for (const point of s.points) {
      const [x, y] = point;
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      lo = Math.min(lo, point[axis]);
      hi = Math.max(hi, point[axis]);
    }
  }
  return lo === Infinity ? [0, 1] : [lo, hi];
}

function validate(spec: LineChartSpec): void {
  if (typeof spec !== "object" || spec === null) throw new ConfigError("Invalid chart: expected a spec object");
  if (!Array.isArray(spec.series)) throw new ConfigError(`Invalid chart "${spec.title}": series must be a list`);
  spec.series.forEach((s, i) => {
    if (!Array.isArray(s?.points)) {
      throw new ConfigError(`Invalid chart "${spec.title}": series[${i}].points must be a list of [x, y]`);
    }
    s.points.forEach((p, j) => {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== "number" || typeof p[1] !== "number") {
        throw new ConfigError(`Invalid chart "${spec.title}": series[${i}].points[${j}] must be [number, number]`);
      }
    });
  });
  for (const key of ["xDomain", "yDomain"] as const) {
    const d = spec[key];
    if (d !== undefined && !(Number.isFinite(d[0]) && Number.isFinite(d[1]) && d[0] < d[1])) {
      throw new ConfigError(`Invalid chart "${spec.title}": ${key} must be [min, max] with min < max`);
    }
  }
}

/** The plot area inside the margins, in SVG pixels. */
interface PlotBox {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** One axis: its ticks, their spacing and the data-to-pixel scale. */
interface Axis {
  ticks: number[];
  step: number;
  scale: (value: number) => number;
}

function axis(spec: LineChartSpec, dim: 0 | 1, from: number, to: number): Axis {
  const domain = dim === 0 ? spec.xDomain : spec.yDomain;
  const [min, max] = extent(spec, dim);
  const ticks = domain ? niceTicks(min, max).filter((t) => t >= min && t <= max) : niceTicks(min, max);
  // The scale spans the outer ticks so lines never run past the axes; forced domains span exactly themselves.
  const lo = domain ? min : ticks[0]!;
  const hi = domain ? max : ticks[ticks.length - 1]!;
  return {
    ticks,
    step: ticks.length > 1 ? ticks[1]! - ticks[0]! : 1,
    scale: (value) => round(from + ((value - lo) / (hi - lo)) * (to - from)),
  };
}

/** Renders a line chart as a standalone SVG document. */
export function lineChartSvg(spec: LineChartSpec): string {
  validate(spec);
  const width = spec.width ?? 720;
  const height = spec.height ?? 420;
  const plot = { left: MARGIN.left, top: MARGIN.top, right: width - MARGIN.right, bottom: height - MARGIN.bottom };
  const x = axis(spec, 0, plot.left, plot.right);
  const y = axis(spec, 1, plot.bottom, plot.top);
  return [
    ...frame(spec, width, height, plot),
    ...x.ticks.flatMap((t) => tick("x", t, x, plot)),
    ...y.ticks.flatMap((t) => tick("y", t, y, plot)),
    ...axisLabels(spec, height, plot),
    ...spec.series.flatMap((s, i) => seriesSvg(s, i, x.scale, y.scale, plot)),
    "</svg>",
  ].join("\n") + "\n";
}

function frame(spec: LineChartSpec, width: number, height: number, plot: PlotBox): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text class="title" x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="600">${
      escapeXml(spec.title)
    }</text>`,
    `<rect class="plot-area" x="${plot.left}" y="${plot.top}" width="${plot.right - plot.left}" height="${
      plot.bottom - plot.top
    }" fill="none" stroke="#999999"/>`,
    // Clipping keeps points outside a forced domain (e.g. an accuracy axis fixed to [0, 1]) inside the plot.
    `<clipPath id="coop-plot-clip"><rect x="${plot.left}" y="${plot.top}" width="${plot.right - plot.left}" height="${
      plot.bottom - plot.top
    }"/></clipPath>`,
  ];
}

function tick(dim: "x" | "y", t: number, axis: Axis, plot: PlotBox): string[] {
  const at = axis.scale(t);
  const [grid, mark, label] = dim === "x"
    ? [[at, plot.top, at, plot.bottom], [at, plot.bottom, at, plot.bottom + 5], [at, plot.bottom + 18, "middle"]]
    : [[plot.left, at, plot.right, at], [plot.left - 5, at, plot.left, at], [plot.left - 8, at + 4, "end"]];
  return [
    `<line class="grid" x1="${grid[0]}" y1="${grid[1]}" x2="${grid[2]}" y2="${grid[3]}" stroke="#eeeeee"/>`,
    `<line x1="${mark[0]}" y1="${mark[1]}" x2="${mark[2]}" y2="${mark[3]}" stroke="#999999"/>`,
    `<text class="tick ${dim}" data-value="${t}" x="${label[0]}" y="${label[1]}" text-anchor="${label[2]}" ` +
    `fill="#444444">${formatTick(t, axis.step)}</text>`,
  ];
}

function axisLabels(spec: LineChartSpec, height: number, plot: PlotBox): string[] {
  const middle = (plot.top + plot.bottom) / 2;
  return [
    `<text class="x-label" x="${(plot.left + plot.right) / 2}" y="${height - 14}" text-anchor="middle">${
      escapeXml(spec.xLabel)
    }</text>`,
    `<text class="y-label" x="18" y="${middle}" text-anchor="middle" transform="rotate(-90 18 ${middle})">${
      escapeXml(spec.yLabel)
    }</text>`,
  ];
}

function seriesSvg(
  s: LineChartSpec["series"][number],
  i: number,
  sx: (x: number) => number,
  sy: (y: number) => number,
  plot: PlotBox,
): string[] {
  const color = s.color ?? PALETTE[i % PALETTE.length]!;
  const name = escapeXml(s.name);
  const out = [`<g clip-path="url(#coop-plot-clip)">`];
  for (const segment of segments(s.points)) {
    const points = segment.map(([x, y]) => `${sx(x)},${sy(y)}`).join(" ");
    out.push(
      `<polyline class="series" data-series="${name}" points="${points}" fill="none" stroke="${color}" ` +
        `stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/>`,
    );
    if (s.points.length <= MAX_POINTS_WITH_MARKERS) {
      for (const [x, y] of segment) out.push(`<circle cx="${sx(x)}" cy="${sy(y)}" r="3" fill="${color}"/>`);
    }
  }
  out.push("</g>");
  const ly = plot.top + 8 + i * 20;
  out.push(
    `<g class="legend-item" data-series="${name}">`,
    `<line x1="${plot.right + 16}" y1="${ly}" x2="${plot.right + 40}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
    `<text x="${plot.right + 46}" y="${ly + 4}">${name}</text>`,
    `</g>`,
  );
  return out;
}

/** Splits a series into runs of finite points; a non-finite point leaves a gap in the line. */
function segments(points: Array<[number, number]>): Array<Array<[number, number]>> {
  const result: Array<Array<[number, number]>> = [];
  let current: Array<[number, number]> = [];
  for (const p of points) {
    if (Number.isFinite(p[0]) && Number.isFinite(p[1])) {
      current.push(p);
    } else if (current.length > 0) {
      result.push(current);
      current = [];
    }
  }
  if (current.length > 0) result.push(current);
  return result;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Writes {@link lineChartSvg} output to `path`, creating folders as needed. */
export async function writeLineChart(path: string, spec: LineChartSpec): Promise<void> {
  const svg = lineChartSvg(spec);
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, svg);
}
