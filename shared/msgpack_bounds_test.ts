import { deepStrictEqual, ok, throws } from "node:assert/strict";
import { decode, encode } from "./codec.ts";
import { DecodeError } from "./errors.ts";
import { checkFrameBounds } from "./msgpack_bounds.ts";
import { Rng } from "./random.ts";
import { tensor } from "./tensor.ts";
import { nestedArrayBomb } from "../tests/runtime/hostile_frames.ts";

function rssMb(): number {
  return Deno.memoryUsage().rss / 2 ** 20;
}

Deno.test("bounds - well-formed frames of every type pass and decode unchanged", () => {
  const rng = new Rng(7);
  const random = () => rng.next();
  const values: unknown[] = [
    null,
    true,
    -1,
    127,
    -33,
    255,
    65_536,
    -(2 ** 40),
    2 ** 53 - 1,
    1.5,
    "",
    "x".repeat(31),
    "y".repeat(300),
    "z".repeat(70_000),
    new Uint8Array(10),
    new Uint8Array(70_000),
    12345678901234567890n,
    new Date(1_700_000_000_123),
    tensor("float32", [3], [1, 2, 3]),
    { a: [1, { b: [] }], c: {} },
    Array.from({ length: 20 }, (_, i) => i),
    Array.from({ length: 70_000 }, () => random()),
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
  ];
  for (const value of values) {
    const frame = encode(value);
    checkFrameBounds(frame);
    const back = decode(frame);
    if (value instanceof Date || typeof value === "bigint" || value instanceof Uint8Array || Array.isArray(value)) {
      deepStrictEqual(back, value);
    }
  }
});

Deno.test("bounds - a nested array bomb is a DecodeError before any allocation", () => {
  // Without the walk this 3 KB frame made the decoder allocate ~470 MB (see msgpack_bounds.ts).
  const before = rssMb();
  for (let i = 0; i < 50; i++) {
    throws(
      () => decode(nestedArrayBomb(1000)),
      (e: unknown) => e instanceof DecodeError && /items announced/.test(`${e}`),
    );
  }
  ok(rssMb() - before < 64, `rss grew ${rssMb() - before} MB`);
});

Deno.test("bounds - headers claiming more than the frame holds are rejected", () => {
  const cases: Record<string, number[]> = {
    "array32 of 2^32-1": [0xdd, 0xff, 0xff, 0xff, 0xff],
    "map32 of 2^32-1": [0xdf, 0xff, 0xff, 0xff, 0xff],
    "map16 of 3 with 5 bytes": [0xde, 0x00, 0x03, 0x01, 0x02, 0x03, 0x04, 0x05],
    "str32 of 4 GiB": [0xdb, 0xff, 0xff, 0xff, 0xff, 0x61],
    "bin32 of 4 GiB": [0xc6, 0xff, 0xff, 0xff, 0xff],
    "ext32 of 4 GiB": [0xc9, 0xff, 0xff, 0xff, 0xff, 0x10],
    "truncated length": [0xdd, 0xff],
    "reserved type byte": [0xc1],
    "empty": [],
    "fixarray of 3 with 2": [0x93, 0x01, 0x02],
  };
  for (const [what, bytes] of Object.entries(cases)) {
    throws(() => checkFrameBounds(Uint8Array.from(bytes)), DecodeError, what);
    throws(() => decode(Uint8Array.from(bytes)), DecodeError, what);
  }
});

Deno.test("bounds - a frame of many empty maps stays linear in its size", () => {
  // 1 MiB of fixmap(0) inside one array32: a million real objects, which is legal; memory must stay O(frame).
  const n = 1 << 20;
  const frame = new Uint8Array(5 + n).fill(0x80);
  frame.set([0xdd, 0x00, 0x10, 0x00, 0x00]);
  const before = rssMb();
  const value = decode(frame) as unknown[];
  ok(value.length === n);
  ok(rssMb() - before < 200, `rss grew ${rssMb() - before} MB for a 1 MiB frame`);
});

Deno.test("bounds - random mutations of real frames never escape as anything but DecodeError", () => {
  const rng = new Rng(42);
  const random = () => rng.next();
  const base = encode({ op: "spawn", args: [1, "two", [3, { four: 4 }]], t: tensor("int32", [2], [5, 6]) });
  for (let i = 0; i < 5000; i++) {
    const frame = base.slice(0, 1 + Math.floor(random() * base.length));
    for (let k = 0; k < 3; k++) frame[Math.floor(random() * frame.length)] = Math.floor(random() * 256);
    try {
      decode(frame);
    } catch (error) {
      ok(error instanceof DecodeError, `mutation ${i}: ${(error as Error).name}: ${(error as Error).message}`);
    }
  }
});
