import { ok, strictEqual } from "node:assert/strict";
import { mulberry32 } from "./random.ts";

Deno.test("mulberry32 - the same seed replays the same stream in [0, 1); other seeds differ", () => {
  const a = Array.from({ length: 1000 }, mulberry32(7));
  const b = Array.from({ length: 1000 }, mulberry32(7));
  strictEqual(a.join(), b.join());
  ok(a.every((x) => x >= 0 && x < 1));
  ok(Array.from({ length: 1000 }, mulberry32(8)).join() !== a.join());
});
