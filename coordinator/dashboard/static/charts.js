// Hand-drawn SVG line charts: a few series of (step, value) points, auto-scaled, with gaps for missing values.
// Small on purpose (no dependency to vendor): the dashboard needs lines, a y range and the last value, no more.

const NS = "http://www.w3.org/2000/svg";
const W = 300, H = 110, PAD = { left: 34, right: 6, top: 6, bottom: 16 };
export const COLORS = ["#2f6fdf", "#e06c1f", "#1e9e5a", "#a23fbf"];

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function fmt(v) {
  if (!Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && a < 0.001) return v.toExponential(1);
  return a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(3);
}

/** Draws `series` ([{name, points: [[x, y], ...]}]) into `svg`; non-finite y values break the line. */
export function drawLines(svg, series, options = {}) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const finite = series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  svg.dataset.points = String(finite.length);
  if (finite.length === 0) {
    svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "nodata" }, "no data yet"));
    return;
  }
  let [x0, x1] = [Math.min(...finite.map((p) => p[0])), Math.max(...finite.map((p) => p[0]))];
  let [y0, y1] = options.range ?? [Math.min(...finite.map((p) => p[1])), Math.max(...finite.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const sx = (x) => PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (y) => H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom);
  for (const y of [y0, (y0 + y1) / 2, y1]) {
    svg.append(el("line", { x1: PAD.left, x2: W - PAD.right, y1: sy(y), y2: sy(y), class: "grid" }));
    svg.append(el("text", { x: PAD.left - 3, y: sy(y) + 3, "text-anchor": "end", class: "axis" }, fmt(y)));
  }
  svg.append(el("text", { x: PAD.left, y: H - 3, class: "axis" }, `step ${x0}`));
  svg.append(el("text", { x: W - PAD.right, y: H - 3, "text-anchor": "end", class: "axis" }, `${x1}`));
  series.forEach((s, i) => {
    let d = "";
    let pen = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
      pen = true;
    }
    if (d !== "") svg.append(el("path", { d, fill: "none", stroke: COLORS[i % COLORS.length], "stroke-width": 1.5 }));
  });
}
