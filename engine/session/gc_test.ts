/** `collectGarbage` really collects: a dropped 400 MB buffer leaves the resident set. */
import { ok } from "node:assert/strict";
import { collectGarbage } from "./gc.ts";

const rssMb = () => Number(Deno.readTextFileSync("/proc/self/status").match(/VmRSS:\s+(\d+)/)![1]) / 1024;

Deno.test({
  name: "collectGarbage - frees an unreachable large buffer at once",
  ignore: Deno.build.os !== "linux",
  fn: () => {
    ok(collectGarbage());
    let big: Float32Array | null = new Float32Array(100_000_000).fill(1);
    const held = rssMb();
    ok(big[99_999_999] === 1);
    big = null;
    ok(collectGarbage());
    const after = rssMb();
    ok(held - after > 300, `resident ${held.toFixed(0)} MB before, ${after.toFixed(0)} MB after`);
  },
});
