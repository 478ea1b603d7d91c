/**
 * Progress reporting for long jobs (training runs, benchmarks): on a terminal, one redrawn line with a bar, rate,
 * ETA and the latest metrics; elsewhere (CI logs, pipes) a plain line every few seconds, because carriage-return
 * redraws turn a log file into one unreadable megaline.
 */

import { ConfigError } from "../../shared/mod.ts";

/** Where progress is written; `Deno.stderr` and `Deno.stdout` fit. */
export interface ProgressStream {
  writeSync(data: Uint8Array): number;
  isTerminal?(): boolean;
}

/** Options for {@link createProgress}. */
export interface ProgressOptions {
  /** Units of work expected; 0 = unknown (no bar, no ETA). */
  total: number;
  /** Shown first on each line, e.g. "cooper train". */
  label: string;
  /** Default Deno.stderr, so stdout stays clean for results. */
  stream?: ProgressStream;
  /** Force terminal (redraw) or plain-line mode; default asks the stream. */
  tty?: boolean;
  /** Plain mode: at most one line per this many ms (default 5000). */
  intervalMs?: number;
  /** Unit name for the rate, e.g. "steps" (default "it"). */
  unit?: string;
  /** Clock in ms; injectable for tests. */
  now?: () => number;
}

/** Extra values shown beside the bar (latest value wins). */
export type ProgressMetrics = Record<string, number | string>;

/** Options for {@link Progress.tick}. */
export interface TickOptions {
  metrics?: ProgressMetrics;
}

/** A running progress display. */
export interface Progress {
  /** Adds `n` (default 1) finished units and optionally updates the shown metrics. */
  tick(n?: number, options?: TickOptions): void;
  /** Prints the final line (always) and ends the display; later ticks are ignored. */
  done(options?: TickOptions): void;
  /** Units finished so far. */
  readonly current: number;
}

// Redraw at most ~10 times a second: faster is invisible and costs terminal bandwidth.
const TTY_REDRAW_MS = 100;
const BAR_WIDTH = 24;
const encoder = new TextEncoder();

/** Starts a progress display; see {@link ProgressOptions}. */
export function createProgress(options: ProgressOptions): Progress {
  const { total, label } = options;
  if (typeof total !== "number" || !Number.isFinite(total) || total < 0) {
    throw new ConfigError(`Invalid progress total for "${label}": must be a finite number >= 0, got ${total}`);
  }
  const stream = options.stream ?? Deno.stderr;
  const tty = options.tty ?? (stream.isTerminal?.() ?? false);
  const now = options.now ?? (() => performance.now());
  const interval = options.intervalMs ?? 5000;
  const unit = options.unit ?? "it";
  const started = now();
  let current = 0;
  let lastDraw = -Infinity;
  let finished = false;
  const metrics: ProgressMetrics = {};

  const write = (text: string) => stream.writeSync(encoder.encode(text));
  const line = (final: boolean) => {
    const elapsedS = (now() - started) / 1000;
    const rate = elapsedS > 0 ? current / elapsedS : 0;
    const parts = [label];
    if (total > 0) {
      const fraction = Math.min(1, current / total);
      if (tty) {
        const filled = Math.round(fraction * BAR_WIDTH);
        parts.push(`[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`);
      }
      parts.push(`${current}/${total}`, `${Math.floor(fraction * 100)}%`);
    } else {
      parts.push(`${current}`);
    }
    parts.push(`${formatValue(rate)} ${unit}/s`);
    if (final) parts.push(`in ${formatDuration(elapsedS)}`);
    else if (total > 0 && rate > 0) parts.push(`ETA ${formatDuration(Math.max(0, total - current) / rate)}`);
    for (const [key, value] of Object.entries(metrics)) parts.push(`${key}=${formatValue(value)}`);
    return parts.join(" ");
  };
  const draw = (final: boolean) => {
    lastDraw = now();
    if (tty) write(`\r\x1b[2K${fitToTerminal(line(final))}${final ? "\n" : ""}`);
    else write(line(final) + "\n");
  };

  return {
    get current() {
      return current;
    },
    tick(n = 1, tickOptions = {}) {
      if (finished) return;
      if (!Number.isFinite(n) || n < 0) {
        throw new ConfigError(`Invalid progress tick for "${label}": n must be a finite number >= 0, got ${n}`);
      }
      current += n;
      Object.assign(metrics, tickOptions.metrics);
      if (now() - lastDraw >= (tty ? TTY_REDRAW_MS : interval)) draw(false);
    },
    done(doneOptions = {}) {
      if (finished) return;
      finished = true;
      Object.assign(metrics, doneOptions.metrics);
      draw(true);
    },
  };
}

// A line wider than the terminal wraps, and "\r" then only rewinds the last row, leaving a trail of copies.
function fitToTerminal(text: string): string {
  let columns = Infinity;
  try {
    columns = Deno.consoleSize().columns;
  } catch {
    // Not a console (tests, redirected output): no limit.
  }
  const chars = [...text];
  return chars.length < columns ? text : chars.slice(0, Math.max(0, columns - 2)).join("") + "…";
}

/** Compact number formatting for metrics and rates: 4 significant digits, integers as is. */
export function formatValue(value: number | string): string {
  if (typeof value === "string") return value;
  if (!Number.isFinite(value) || Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

/** Formats seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}
