import assert from "node:assert/strict";
import { ConfigError } from "../shared/errors.ts";
import { columns, formatNumber, machineInfo, percentile, printTable, summarize, writeBenchJson } from "./report.ts";

Deno.test("percentile - interpolates between closest ranks like numpy", () => {
  assert.equal(percentile([3, 1, 2], 50), 2);
  assert.equal(percentile([1, 2, 3, 4], 50), 2.5);
  assert.equal(percentile([1, 2, 3, 4], 0), 1);
  assert.equal(percentile([1, 2, 3, 4], 100), 4);
  const hundred = Array.from({ length: 101 }, (_, i) => i);
  assert.equal(percentile(hundred, 99), 99);
  assert.equal(percentile([10, 20], 25), 12.5);
  assert.equal(percentile([7], 99), 7);
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => percentile([1], 101), RangeError);
  assert.throws(() => percentile([1], NaN), RangeError);
});

Deno.test("summarize - mean and quantiles of a sample", () => {
  const s = summarize([4, 1, 3, 2]);
  assert.deepEqual(s, { count: 4, mean: 2.5, min: 1, p50: 2.5, p90: 3.7, p99: 3.9699999999999998, max: 4 });
});

Deno.test("printTable - aligned, numbers right-aligned, units in headers", () => {
  let out = "";
  const text = printTable(
    "Runtime",
    [
      { metric: "call round trip", p50: 85.25, p99: 1234.5 },
      { metric: "raw NATS", p50: 70, p99: 99.5 },
    ],
    ["metric", { key: "p50", header: "p50 (µs)" }, { key: "p99", header: "p99 (µs)" }],
    {
      write: (t) => out = t,
    },
  );
  assert.equal(out, text);
  assert.deepEqual(text.split("\n"), [
    "Runtime",
    "metric           p50 (µs)  p99 (µs)",
    "---------------  --------  --------",
    "call round trip      85.3     1,235",
    "raw NATS               70      99.5",
  ]);
});

Deno.test("printTable - columns default to the first row's keys; missing cells show a dash", () => {
  const text = printTable("T", [{ a: "x", b: 1 }, { a: "y" }], undefined, { write: () => {} });
  assert.deepEqual(text.split("\n").slice(1), ["a  b", "-  -", "x  1", "y  -"]);
});

Deno.test("formatNumber - readable magnitudes", () => {
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(0.000123456), "0.000123");
  assert.equal(formatNumber(12.3456), "12.3");
  assert.equal(formatNumber(25000.4), "25,000");
  assert.equal(formatNumber(Infinity), "Infinity");
});

Deno.test("machineInfo - describes the host", () => {
  const info = machineInfo();
  assert.ok(info.cpuModel.length > 0);
  assert.ok(info.cores >= 1);
  assert.ok(info.memoryGb > 0);
  assert.equal(info.deno, Deno.version.deno);
  assert.ok(!Number.isNaN(Date.parse(info.date)));
});

Deno.test("writeBenchJson - writes suite data with the machine; rejects bad suite names", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-bench-" });
  try {
    const path = await writeBenchJson("runtime", { call_p50_us: 85.2, tensor_mb_s: { "1MiB": 900 } }, { dir });
    assert.equal(path, `${dir}/runtime.json`);
    const data = JSON.parse(await Deno.readTextFile(path));
    assert.equal(data.suite, "runtime");
    assert.equal(data.call_p50_us, 85.2);
    assert.deepEqual(data.tensor_mb_s, { "1MiB": 900 });
    assert.equal(data.machine.deno, Deno.version.deno);
    await assert.rejects(() => writeBenchJson("../evil", {}, { dir }), ConfigError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("columns - a compact spec gives keys and headers; an entry with no key is refused", () => {
  assert.deepEqual(columns("n: consumers | gbS: GB/s (best)\n ratio |"), [
    { key: "n", header: "consumers" },
    { key: "gbS", header: "GB/s (best)" },
    { key: "ratio" },
  ]);
  assert.deepEqual(columns("p50: p50 (µs): median"), [{ key: "p50", header: "p50 (µs): median" }]);
  assert.throws(() => columns("ok | : header"), ConfigError);
});
