import { ok, strictEqual } from "node:assert/strict";
import { mulberry32, Mulberry32Stream } from "./random.ts";

Deno.test("mulberry32 - the same seed replays the same stream in [0, 1); other seeds differ", () => {
  const a = Array.from({ length: 1000 }, mulberry32(7));
  const b = Array.from({ length: 1000 }, mulberry32(7));
  strictEqual(a.join(), b.join());
  ok(a.every((x) => x >= 0 && x < 1));
  ok(Array.from({ length: 1000 }, mulberry32(8)).join() !== a.join());
});

Deno.test("Mulberry32Stream - fills the same stream as mulberry32, across chunk boundaries", () => {
  const closure = mulberry32(11);
  const expected = Array.from({ length: 700 }, () => Math.round(closure() * 4294967296));
  const stream = new Mulberry32Stream(11);
  const first = new Uint32Array(300);
  const second = new Uint32Array(400);
  stream.fill(first);
  stream.fill(second);
  strictEqual([...first, ...second].join(), expected.join());
});
