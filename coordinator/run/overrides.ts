/**
 * `coop run CONFIG --set a.b=c`: dotted-path overrides applied to the config as written, before the same schema
 * validates it, so an override is checked exactly like the file (an unknown field or a bad value is an error naming
 * its path). Values are JSON when they parse as JSON (`steps=2`, `grpo.lr=1e-6`, `eval.path=null`,
 * `data.levels=[1,2]`), else strings (`policy.checkpoint=models/qwen`).
 */
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../../shared/mod.ts";

/** One `--set` override. */
export interface ConfigOverride {
  path: string[];
  value: unknown;
}

/** Parses `a.b=c`; the value is JSON when it parses as JSON, else the raw string. */
export function parseOverride(text: string): ConfigOverride {
  const at = text.indexOf("=");
  const key = at < 0 ? "" : text.slice(0, at).trim();
  const path = key.split(".");
  if (at <= 0 || path.some((part) => part === "")) {
    throw new ConfigError(`Invalid --set "${text}": expected field.path=value, e.g. --set grpo.lr=1e-6`);
  }
  const raw = text.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch { /* a plain string */ }
  return { path, value };
}

/** `config` with every override applied (objects on the way are created; the input is not modified). */
export function applyOverrides(config: unknown, overrides: readonly ConfigOverride[]): Record<string, unknown> {
  const root = structuredClone(isObject(config) ? config : {});
  for (const { path, value } of overrides) {
    let node: Record<string, unknown> = root;
    path.slice(0, -1).forEach((part, i) => {
      const next = node[part];
      if (next !== undefined && !isObject(next)) {
        throw new ConfigError(
          `Invalid --set ${path.join(".")}: ${path.slice(0, i + 1).join(".")} is ${
            JSON.stringify(next)
          }, not an object`,
        );
      }
      node = (node[part] ??= {}) as Record<string, unknown>;
    });
    node[path.at(-1)!] = value;
  }
  return root;
}

/** Reads a YAML or JSON config file as written (no validation yet); `.json` is JSON, anything else YAML. */
export async function readConfigObject(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(`Invalid run config: cannot read "${path}": ${(error as Error).message}`);
  }
  try {
    return (path.endsWith(".json") ? JSON.parse(text) : parseYaml(text)) ?? {};
  } catch (error) {
    const reason = (error as Error).message.split("\n", 1)[0];
    throw new ConfigError(`Invalid run config: cannot parse ${path}: ${reason}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
