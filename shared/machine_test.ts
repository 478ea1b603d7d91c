import { ok } from "node:assert/strict";
import { cpuModel } from "./machine.ts";

Deno.test("cpuModel - names the CPU, with its family and model numbers where /proc/cpuinfo has them", () => {
  const model = cpuModel();
  ok(model.length > 0 && model !== "unknown CPU", model);
  let info = "";
  try {
    info = Deno.readTextFileSync("/proc/cpuinfo");
  } catch { /* not Linux: the name alone */ }
  const family = /^cpu family\s*:\s*(\d+)$/m.exec(info)?.[1];
  if (family !== undefined) ok(model.includes(`family ${family}, model `), model);
});
