import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { decode, encode, TENSOR_EXT } from "./codec.ts";
import { DecodeError } from "./errors.ts";
import { Rng } from "./random.ts";
import { type DType, DTYPE_BYTES, Tensor, tensor } from "./tensor.ts";

const DTYPES = Object.keys(DTYPE_BYTES) as DType[];

function randomTensor(random: () => number, maxElements = 300): Tensor {
  const dtype = DTYPES[Math.floor(random() * DTYPES.length)]!;
  const ndim = Math.floor(random() * 5);
  const shape: number[] = [];
  let size = 1;
  for (let i = 0; i < ndim; i++) {
    const dim = Math.floor(random() * (size > maxElements / 4 ? 2 : 6));
    shape.push(dim);
    size *= dim;
  }
  const t = tensor(dtype, shape);
  const bytes = t.bytes();
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  if (dtype === "bool") { for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i]! & 1; }
  return t;
}

function assertSameTensor(actual: unknown, expected: Tensor): void {
  ok(actual instanceof Tensor, `expected a Tensor, got ${String(actual)}`);
  strictEqual(actual.dtype, expected.dtype);
  deepStrictEqual([...actual.shape], [...expected.shape]);
  strictEqual(actual.data.constructor, expected.data.constructor);
  deepStrictEqual(actual.bytes(), expected.bytes());
}

/** Places `frame` at `offset` inside a fresh ArrayBuffer (to control the receive buffer's alignment). */
function placed(frame: Uint8Array, offset: number): Uint8Array {
  const buffer = new ArrayBuffer(frame.byteLength + offset);
  const view = new Uint8Array(buffer, offset, frame.byteLength);
  view.set(frame);
  return view;
}

Deno.test("codec - every dtype round trips, including 0-d and empty shapes", () => {
  for (const dtype of DTYPES) {
    for (const shape of [[], [0], [3, 0, 2], [5], [2, 3, 4]]) {
      const fresh = tensor(dtype, shape);
      const bytes = fresh.bytes();
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) & (dtype === "bool" ? 1 : 0xff);
      assertSameTensor(decode(encode(fresh)), fresh);
    }
  }
});

Deno.test("codec - int64 keeps full 64-bit values as bigints; float16/bfloat16 stay raw Uint16Array", () => {
  const big = tensor("int64", [4], [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]);
  const back = decode(encode(big)) as Tensor<"int64">;
  deepStrictEqual([...back.data], [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]);
  const half = tensor("bfloat16", [2], [0x3f80, 0xffff]);
  const halfBack = decode(encode(half)) as Tensor<"bfloat16">;
  ok(halfBack.data instanceof Uint16Array);
  deepStrictEqual([...halfBack.data], [0x3f80, 0xffff]);
});

Deno.test("codec - tensors nested in objects and arrays, with other msgpack values", () => {
  const a = tensor("float32", [2, 2], [1, 2, 3, 4]);
  const b = tensor("int64", [1], [123456789012345678n]);
  const c = tensor("uint8", [3], [1, 2, 3]);
  const blob = new Uint8Array(100_000).map((_, i) => i % 251);
  const value = {
    name: "batch",
    n: 7,
    big: 2n ** 100n,
    neg: -5n,
    when: new Date(1_700_000_000_123),
    tensors: [a, { inner: b, list: [c, null, true] }],
    blob,
    small: new Uint8Array([9, 8]),
  };
  const back = decode(encode(value)) as typeof value;
  strictEqual(back.name, "batch");
  strictEqual(back.n, 7);
  strictEqual(back.big, 2n ** 100n);
  strictEqual(back.neg, -5n);
  strictEqual(back.when.getTime(), 1_700_000_000_123);
  assertSameTensor(back.tensors[0], a);
  const nested = back.tensors[1] as { inner: Tensor; list: [Tensor, null, boolean] };
  assertSameTensor(nested.inner, b);
  assertSameTensor(nested.list[0], c);
  strictEqual(nested.list[1], null);
  strictEqual(nested.list[2], true);
  deepStrictEqual(back.blob, blob);
  deepStrictEqual(back.small, new Uint8Array([9, 8]));
});

Deno.test("codec - aligned receive buffer decodes tensor data as a view over it", () => {
  for (const dtype of DTYPES) {
    // A leading string of odd length shifts the tensor so the encoder must pad.
    const t = tensor(dtype, [3, 5]);
    const frame = encode({ tag: "x".repeat(dtype.length), t });
    for (const offset of [0, 8, 16]) {
      const input = placed(frame, offset);
      const back = decode(input) as { t: Tensor };
      assertSameTensor(back.t, t);
      strictEqual(back.t.data.buffer, input.buffer, `${dtype} at offset ${offset} should be a view`);
      strictEqual(back.t.data.byteOffset % 8, 0);
    }
  }
});

Deno.test("codec - misaligned receive buffer falls back to a copy with the same values", () => {
  for (const dtype of ["float32", "float64", "int64", "int32", "float16"] as const) {
    const t = tensor(dtype, [7]);
    const bytes = t.bytes();
    for (let i = 0; i < bytes.length; i++) bytes[i] = i * 13;
    const input = placed(encode([t]), 1);
    const back = (decode(input) as Tensor[])[0]!;
    assertSameTensor(back, t);
    ok(back.data.buffer !== input.buffer, `${dtype} should have been copied`);
  }
});

Deno.test("codec - misaligned Node Buffer frames (as NATS delivers them) decode to a copy", () => {
  const t = tensor("float32", [5], [1, 2, 3, 4, 5]);
  const frame = encode([t]);
  // Buffer#slice is a view, not a copy: the fallback must not rely on it.
  const input = Buffer.alloc(frame.byteLength + 1).subarray(1);
  input.set(frame);
  const back = (decode(input) as Tensor[])[0]!;
  assertSameTensor(back, t);
  ok(back.data.buffer !== input.buffer);
});

Deno.test("codec - large tensor round trips as a view", () => {
  const t = tensor("float32", [1024, 4096]); // 16 MiB
  for (let i = 0; i < t.data.length; i += 4099) t.data[i] = i;
  const frame = encode({ weights: t });
  ok(frame.byteLength < t.data.byteLength + 64);
  const back = decode(frame) as { weights: Tensor<"float32"> };
  strictEqual(back.weights.data.buffer, frame.buffer);
  deepStrictEqual([...back.weights.shape], [1024, 4096]);
  for (let i = 0; i < t.data.length; i += 4099) strictEqual(back.weights.data[i], i);
});

Deno.test("codec - property: random tensors in random structures round trip", () => {
  const rng = new Rng(20260101);
  const random = () => rng.next();
  for (let iteration = 0; iteration < 300; iteration++) {
    const tensors = Array.from({ length: 1 + Math.floor(random() * 4) }, () => randomTensor(random));
    const value = { i: iteration, s: "a".repeat(Math.floor(random() * 9)), tensors, pair: [tensors[0], iteration] };
    const offset = Math.floor(random() * 3) * 4;
    const back = decode(placed(encode(value), offset)) as typeof value;
    strictEqual(back.i, iteration);
    tensors.forEach((t, i) => assertSameTensor(back.tensors[i], t));
    assertSameTensor(back.pair[0], tensors[0]!);
  }
});

/** A frame holding a single tensor ext with a hand-written header (for bad-input cases). */
function forgedTensor(header: number[], dims: number[], dataBytes: number): Uint8Array {
  const payload = new Uint8Array(Math.max(4 + 4 * dims.length, header[2]!) + dataBytes);
  payload.set(header);
  const view = new DataView(payload.buffer);
  dims.forEach((dim, i) => view.setUint32(4 + 4 * i, dim, true));
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0xc9;
  new DataView(frame.buffer).setUint32(1, payload.length);
  frame[5] = TENSOR_EXT;
  frame.set(payload, 6);
  return frame;
}

function throwsDecode(frame: Uint8Array, pattern: RegExp): void {
  throws(() => decode(frame), (error: unknown) => {
    ok(error instanceof DecodeError, `expected DecodeError, got ${String(error)}`);
    ok(pattern.test(error.message), `message "${error.message}" should match ${pattern}`);
    return true;
  });
}

Deno.test("codec - bad tensor frames raise DecodeError naming the problem", () => {
  // The well-formed version: float32 [2] needs header 12 bytes (+2 pad to reach offset 16 with the 6-byte ext head).
  const good = forgedTensor([1, 1, 12, 0], [2], 8);
  assertSameTensor(decode(good), tensor("float32", [2]));
  throwsDecode(forgedTensor([99, 1, 12, 0], [2], 8), /unknown dtype code 99/);
  throwsDecode(forgedTensor([1, 1, 12, 0], [3], 8), /needs 12 data bytes, frame has 8/);
  throwsDecode(forgedTensor([1, 1, 12, 0], [0xffffffff, 0xffffffff], 8), /inconsistent|needs/);
  throwsDecode(forgedTensor([1, 2, 12, 0], [0xffffffff, 0xffffffff], 8), /needs .* data bytes/);
  throwsDecode(forgedTensor([1, 200, 12, 0], [], 8), /200 dims/);
  throwsDecode(forgedTensor([1, 1, 3, 0], [2], 8), /data offset 3/);
  throwsDecode(forgedTensor([1, 1, 12, 7], [2], 8), /reserved/);
  throwsDecode(good.subarray(0, good.length - 3), /Cannot decode frame/);
  throwsDecode(new Uint8Array([0xc7, 1, 0x55, 0]), /extension type 85/);
  throwsDecode(new Uint8Array([0x92, 1]), /Cannot decode frame/);
  throwsDecode(new Uint8Array([0xc1]), /Cannot decode frame/);
  throwsDecode(new Uint8Array([]), /Cannot decode frame/);
  throwsDecode(new Uint8Array([1, 2]), /Extra/);
  // A forged array header of 4 billion elements must fail fast, not allocate or hang.
  throwsDecode(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff, 1, 2]), /Cannot decode frame/);
  throws(() => decode("nope" as unknown as Uint8Array), DecodeError);
});

Deno.test("codec - encoding rejects shapes the wire cannot carry", () => {
  const t = new Tensor("uint8", new Array(40).fill(1), new Uint8Array(1));
  throws(() => encode(t), /at most 32/);
  throws(
    () => encode({ f: () => 1 }),
    (error: unknown) => error instanceof TypeError && /Cannot encode value/.test(error.message),
  );
  // A failed encode leaves no state behind for the next one.
  throws(() => encode([tensor("float32", [1]), Symbol("x")]), TypeError);
  assertSameTensor((decode(encode([tensor("int8", [2])])) as Tensor[])[0], tensor("int8", [2]));
  const forged = new Tensor("uint8", [1], new Uint8Array(1));
  (forged as { dtype: string }).dtype = "constructor";
  throws(() => encode(forged), /unknown dtype "constructor"/);
});

Deno.test("codec - fuzz: random and mutated frames only ever raise DecodeError", () => {
  const rng = new Rng(7);
  const random = () => rng.next();
  const seeds = Array.from({ length: 40 }, () =>
    encode({
      id: Math.floor(random() * 1000),
      args: [randomTensor(random, 64), "text", [1.5, -2, null], { k: randomTensor(random, 16) }],
      n: 2n ** 70n,
    }));
  let decodedOk = 0;
  const check = (frame: Uint8Array) => {
    try {
      decode(frame);
      decodedOk++;
    } catch (error) {
      if (!(error instanceof DecodeError)) throw new Error(`Non-DecodeError for frame ${[...frame]}`, { cause: error });
    }
  };
  for (let i = 0; i < 4000; i++) {
    const seed = seeds[i % seeds.length]!;
    const kind = i % 5;
    let frame: Uint8Array;
    if (kind === 0) {
      frame = new Uint8Array(Math.floor(random() * 64)).map(() => Math.floor(random() * 256));
    } else if (kind === 1) {
      frame = seed.slice();
      for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) {
        const at = Math.floor(random() * frame.length);
        frame[at] = frame[at]! ^ (1 << Math.floor(random() * 8));
      }
    } else if (kind === 2) {
      frame = seed.slice(0, Math.floor(random() * seed.length));
    } else if (kind === 3) {
      const other = seeds[Math.floor(random() * seeds.length)]!;
      const cut = Math.floor(random() * seed.length);
      frame = new Uint8Array([...seed.subarray(0, cut), ...other.subarray(Math.floor(random() * other.length))]);
    } else {
      frame = seed.slice();
      const at = Math.floor(random() * frame.length);
      frame[at] = [0xc9, 0xdd, 0xdf, 0xc6, 0xdb, 0xff, 0x00][Math.floor(random() * 7)]!;
    }
    check(frame);
  }
  ok(decodedOk < 4000);
});
