/**
 * Reporting helpers shared by every benchmark suite: aligned result tables, a description of the machine, the
 * `bench/out/<suite>.json` writer, and percentiles.
 */

import { cpuModel, formatTable } from "../shared/mod.ts";
import { totalmem } from "node:os";
import { ConfigError } from "../shared/errors.ts";

/** One column of {@link printTable}. */
export interface Column {
  /** Key in each row. */
  key: string;
  /** Header text; put the unit in it, e.g. "p50 (µs)". Defaults to the key. */
  header?: string;
  /** Custom cell text; default formats numbers with {@link formatNumber}. */
  format?: (value: unknown) => string;
}

/**
 * Columns from a compact spec: `|`- or newline-separated entries, each `key` or `key: header`, e.g.
 * `"n: consumers | gbS: GB/s | ratio"`. One line per table instead of one object per column in every suite.
 */
export function columns(spec: string): Column[] {
  return spec.split(/[|\n]/).map((entry) => entry.trim()).filter((entry) => entry !== "").map((entry) => {
    const at = entry.indexOf(":");
    if (at < 0) return { key: entry };
    const key = entry.slice(0, at).trim();
    if (key === "") throw new ConfigError(`Invalid column "${entry}": expected "key" or "key: header"`);
    return { key, header: entry.slice(at + 1).trim() };
  });
}

/** A row of results: column key -> value. */
export type Row = Record<string, unknown>;

/** Options for {@link printTable}. */
export interface PrintTableOptions {
  /** Where the text goes; default console.log. */
  write?: (text: string) => void;
}

/**
 * Prints a titled, aligned table (numbers right-aligned) and returns its text. Columns default to the keys of the
 * first row; pass them to choose order and put units in headers.
 */
export function printTable(
  title: string,
  rows: Row[],
  columns?: Array<Column | string>,
  options: PrintTableOptions = {},
): string {
  const cols: Column[] = (columns ?? Object.keys(rows[0] ?? {})).map((c) => typeof c === "string" ? { key: c } : c);
  const cells = rows.map((row) => cols.map((c) => (c.format ?? formatCell)(row[c.key])));
  const numeric = cols.map((c) => rows.length > 0 && rows.every((r) => typeof r[c.key] === "number"));
  const table = formatTable(cols.map((c) => c.header ?? c.key), cells, {
    align: numeric.map((n) => n ? "right" : "left"),
  });
  const text = `${title}\n${table}`;
  (options.write ?? console.log)(text);
  return text;
}

function formatCell(value: unknown): string {
  if (typeof value === "number") return formatNumber(value);
  if (value === undefined || value === null) return "-";
  return String(value);
}

/** Formats a measurement readably: three significant digits below 1000, whole numbers with separators above. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1000 || Number.isInteger(value)) return Math.round(value).toLocaleString("en-US");
  if (abs === 0) return "0";
  return String(Number(value.toPrecision(3)));
}

/** The machine a benchmark ran on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  os: string;
  deno: string;
  v8: string;
  /** ISO time of the run. */
  date: string;
}

/** Describes this machine (CPU model from /proc/cpuinfo when available). */
export function machineInfo(): MachineInfo {
  return {
    cpuModel: cpuModel(),
    cores: navigator.hardwareConcurrency,
    memoryGb: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    os: `${Deno.build.os} ${Deno.osRelease()} (${Deno.build.arch})`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    date: new Date().toISOString(),
  };
}

/** Options for {@link writeBenchJson}. */
export interface WriteBenchOptions {
  /** Output folder; default `bench/out` of this checkout (independent of the working directory). */
  dir?: string;
}

/** Default output folder: bench/out next to this file. */
export const BENCH_OUT_DIR: string = new URL("./out/", import.meta.url).pathname;

/** Writes `<dir>/<suite>.json` holding `data` plus `suite` and `machine`; returns the path written. */
export async function writeBenchJson(suite: string, data: object, options: WriteBenchOptions = {}): Promise<string> {
  if (!/^[A-Za-z0-9_-]+$/.test(suite)) {
    throw new ConfigError(`Invalid benchmark suite name "${suite}": use letters, digits, "-" and "_" only`);
  }
  const dir = (options.dir ?? BENCH_OUT_DIR).replace(/\/+$/, "");
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${suite}.json`;
  const body = { suite, ...data, machine: machineInfo() };
  await Deno.writeTextFile(path, JSON.stringify(body, null, 2) + "\n");
  return path;
}

/**
 * The p-th percentile (0..100) with linear interpolation between closest ranks (numpy's default), so p50 of an
 * even-sized sample is the mean of the middle two. Throws RangeError on an empty sample or p outside [0, 100].
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("Cannot take a percentile of an empty sample");
  if (!(p >= 0 && p <= 100)) throw new RangeError(`Percentile must be in [0, 100], got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

/** Common summary of a latency sample. */
export interface Summary {
  count: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Summarizes a sample (mean, min, p50, p90, p99, max). */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError("Cannot summarize an empty sample");
  let sum = 0;
  for (const v of values) sum += v;
  return {
    count: values.length,
    mean: sum / values.length,
    min: percentile(values, 0),
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: percentile(values, 100),
  };
}
