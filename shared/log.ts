/**
 * A tiny structured logger: one line per record on stderr, as text (`time LEVEL component: message k=v`) or as
 * JSON when `COOP_LOG_FORMAT=json` (for log shippers). Level from the options or `COOP_LOG_LEVEL`.
 */

/** Log severities, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Output formats. */
export type LogFormat = "text" | "json";

/** Structured fields attached to a record. */
export type LogFields = Record<string, unknown>;

/** A component's logger. */
export interface Logger {
  readonly component: string;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger for a sub-component (`agent` -> `agent.actor-3`), same level and format. */
  child(component: string): Logger;
}

/** Options for {@link createLogger}. */
export interface LoggerOptions {
  component: string;
  /** Default: `COOP_LOG_LEVEL` or "info". */
  level?: LogLevel;
  /** Default: "json" when `COOP_LOG_FORMAT=json`, else "text". */
  format?: LogFormat;
  /** Where lines go; default stderr. Tests pass a collector. */
  write?: (line: string) => void;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

function envValue(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: fall back to defaults
  }
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr closed (e.g. parent gone): logging must never crash the process
  }
}

/** Creates a logger for `component`. */
export function createLogger(options: LoggerOptions): Logger {
  const envLevel = envValue("COOP_LOG_LEVEL") as LogLevel | undefined;
  const level = options.level ?? (envLevel !== undefined && envLevel in RANK ? envLevel : "info");
  const format = options.format ?? (envValue("COOP_LOG_FORMAT") === "json" ? "json" : "text");
  return makeLogger(options.component, RANK[level], format, options.write ?? writeStderr);
}

function makeLogger(component: string, minRank: number, format: LogFormat, write: (line: string) => void): Logger {
  const log = (level: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[level] < minRank) return;
    const time = new Date().toISOString();
    write(
      format === "json"
        ? safeJson({ time, level, component, message, ...normalize(fields) })
        : `${time} ${level.toUpperCase().padEnd(5)} ${component}: ${message}${textFields(fields)}`,
    );
  };
  return {
    component,
    debug: (message, fields) => log("debug", message, fields),
    info: (message, fields) => log("info", message, fields),
    warn: (message, fields) => log("warn", message, fields),
    error: (message, fields) => log("error", message, fields),
    child: (sub) => makeLogger(`${component}.${sub}`, minRank, format, write),
  };
}

function normalize(fields: LogFields | undefined): LogFields {
  if (fields === undefined) return {};
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? `${value.name}: ${value.message}` : value;
  }
  return out;
}

const bigintAsString = (_key: string, value: unknown) => typeof value === "bigint" ? value.toString() : value;

function fieldText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "bigint") return value.toString();
  try {
    return JSON.stringify(value, bigintAsString) ?? String(value);
  } catch {
    return String(value); // cyclic structures
  }
}

function safeJson(record: LogFields): string {
  try {
    return JSON.stringify(record, bigintAsString);
  } catch {
    return JSON.stringify({
      time: record.time,
      level: record.level,
      component: record.component,
      message: record.message,
    });
  }
}

function textFields(fields: LogFields | undefined): string {
  if (fields === undefined) return "";
  let out = "";
  for (const [key, value] of Object.entries(normalize(fields))) {
    const text = fieldText(value);
    out += ` ${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return out;
}
