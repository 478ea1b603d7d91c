import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { createLogger } from "./log.ts";

Deno.test("log - text lines carry time, level, component and fields; below-level records are dropped", () => {
  const lines: string[] = [];
  const log = createLogger({ component: "agent", level: "info", format: "text", write: (l) => lines.push(l) });
  log.debug("hidden");
  log.info("actor started", { actor: "c1", pid: 42, note: "two words" });
  log.child("actor-3").error("crashed", { error: new TypeError("boom") });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  log.warn("odd", { cyclic, n: 3n });
  strictEqual(lines.length, 3);
  ok(lines[2]!.endsWith('odd cyclic="[object Object]" n=3'), lines[2]);
  ok(
    /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}agent: actor started actor=c1 pid=42 note="two words"$/.test(lines[0]!),
    lines[0],
  );
  ok(lines[1]!.includes('ERROR agent.actor-3: crashed error="TypeError: boom"'), lines[1]);
});

Deno.test("log - JSON mode writes one parseable object per line", () => {
  const lines: string[] = [];
  const log = createLogger({ component: "coordinator", level: "debug", format: "json", write: (l) => lines.push(l) });
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  log.debug("placed", { actor: "a", big: 5n });
  log.warn("odd", { cyclic });
  const first = JSON.parse(lines[0]!);
  deepStrictEqual([first.level, first.component, first.message, first.actor, first.big], [
    "debug",
    "coordinator",
    "placed",
    "a",
    "5",
  ]);
  strictEqual(JSON.parse(lines[1]!).message, "odd");
});
