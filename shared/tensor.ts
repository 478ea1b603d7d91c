/**
 * The tensor every Coop process shares: a dtype, a shape and a typed array over little-endian bytes.
 * It is deliberately plain data so it crosses the wire (see `codec.ts`) and converts to onnxruntime tensors
 * (see `engine/`) without copies.
 */
import { CoopError } from "./errors.ts";

/** Element types Coop carries. float16/bfloat16 are stored as raw 16-bit words. */
export type DType = "float32" | "float64" | "float16" | "bfloat16" | "int32" | "int64" | "uint8" | "int8" | "bool";

/** The typed array backing each dtype. */
export interface DTypeArrays {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  int8: Int8Array;
  bool: Uint8Array;
}

/** Any typed array a tensor can hold. */
export type TensorData = DTypeArrays[DType];

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  int8: 1,
  bool: 1,
};

/** A dense, row-major tensor. */
export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DTypeArrays[D];

  constructor(dtype: D, shape: readonly number[], data: DTypeArrays[D]) {
    const size = shapeSize(shape);
    if (data.length !== size) {
      throw new TensorShapeError(
        `Tensor data has ${data.length} elements but shape [${shape.join(", ")}] needs ${size}`,
      );
    }
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.data = data;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** The raw little-endian bytes (a view, no copy). */
  bytes(): Uint8Array {
    return new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.byteLength);
  }
}

/** Raised when data and shape disagree or a shape is invalid. */
export class TensorShapeError extends CoopError {
  override name = "TensorShapeError";
}

/** Product of a shape's dims; validates that each dim is a non-negative integer. */
export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const dim of shape) {
    if (!Number.isInteger(dim) || dim < 0) {
      throw new TensorShapeError(`Invalid tensor shape [${shape.join(", ")}]: dims must be non-negative integers`);
    }
    size *= dim;
  }
  return size;
}

const CONSTRUCTORS = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  uint8: Uint8Array,
  int8: Int8Array,
  bool: Uint8Array,
} as const;

/** A typed array of `dtype` viewing `bytes` (zero-copy); `bytes.byteOffset` must be aligned to the element size. */
export function viewAs<D extends DType>(dtype: D, bytes: Uint8Array): DTypeArrays[D] {
  const width = DTYPE_BYTES[dtype];
  return new CONSTRUCTORS[dtype](
    bytes.buffer as ArrayBuffer,
    bytes.byteOffset,
    bytes.byteLength / width,
  ) as DTypeArrays[D];
}

/** A zero-filled array for `dtype` with `length` elements. */
export function allocate<D extends DType>(dtype: D, length: number): DTypeArrays[D] {
  return new CONSTRUCTORS[dtype](length) as DTypeArrays[D];
}

/** Convenience constructor: `tensor("float32", [2, 2], [1, 2, 3, 4])`. */
export function tensor<D extends DType>(
  dtype: D,
  shape: readonly number[],
  values?: ArrayLike<number> | ArrayLike<bigint> | DTypeArrays[D],
): Tensor<D> {
  const size = shapeSize(shape);
  const data = allocate(dtype, size);
  if (values !== undefined) {
    if (values.length !== size) {
      throw new TensorShapeError(`Got ${values.length} values for shape [${shape.join(", ")}] (${size} elements)`);
    }
    if (dtype === "int64") {
      const out = data as BigInt64Array;
      for (let i = 0; i < size; i++) out[i] = BigInt((values as ArrayLike<number | bigint>)[i]!);
    } else {
      (data as Float32Array).set(values as ArrayLike<number>);
    }
  }
  return new Tensor(dtype, shape, data);
}
