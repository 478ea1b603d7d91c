/**
 * The wire codec: msgpack with a tensor extension type whose raw data sits 8-byte aligned in the encoded frame, so
 * decoding yields typed-array views over the received buffer (no copy) whenever that buffer keeps the alignment.
 *
 * Tensor extension payload (ext 32, type {@link TENSOR_EXT}):
 *   u8 dtype code | u8 ndim | u8 dataOffset | u8 reserved (0) | ndim × u32 LE dims | zero pad to dataOffset |
 *   data (little-endian, product(dims) × width bytes) | zero pad to a multiple of 8
 * dataOffset is chosen so that data starts at a multiple of 8 from the start of the frame.
 *
 * Large tensors are copied once: msgpack encodes a skeleton in which each tensor extension holds only its header,
 * then the skeleton and the tensors' bytes are spliced into one output buffer and the extension lengths patched.
 * Because each spliced segment is padded to a multiple of 8, the alignment computed in the skeleton still holds.
 */
import {
  Decoder,
  decodeTimestampExtension,
  Encoder,
  encodeTimestampExtension,
  EXT_TIMESTAMP,
  ExtData,
} from "@msgpack/msgpack";
import type { ExtensionCodecType } from "@msgpack/msgpack";
import { DecodeError, MessageTooLargeError } from "./errors.ts";
import { checkFrameBounds } from "./msgpack_bounds.ts";
import { type DType, DTYPE_BYTES, Tensor, type TensorData, viewAs } from "./tensor.ts";

/** msgpack extension type carrying a {@link Tensor}. */
export const TENSOR_EXT = 0x10;
/** msgpack extension type carrying a bigint (decimal string), since msgpack ints stop at 64 bits. */
export const BIGINT_EXT = 0x11;
/** msgpack extension type carrying a large Uint8Array spliced like tensor data (decoded as a view). */
export const BYTES_EXT = 0x12;

const DTYPE_CODES: Readonly<Record<DType, number>> = {
  float32: 1,
  float64: 2,
  float16: 3,
  bfloat16: 4,
  int32: 5,
  int64: 6,
  uint8: 7,
  int8: 8,
  bool: 9,
};
const DTYPES_BY_CODE: readonly (DType | undefined)[] = (() => {
  const table: (DType | undefined)[] = [];
  for (const [dtype, code] of Object.entries(DTYPE_CODES)) table[code] = dtype as DType;
  return table;
})();

/** Most dims a tensor may have on the wire (keeps the header under 256 bytes, so dataOffset fits a u8). */
export const MAX_TENSOR_DIMS = 32;
const ALIGN = 8;
// Uint8Arrays at least this big are spliced (one copy) instead of going through msgpack's growing buffer.
const SPLICE_BYTES_MIN = 64 * 1024;

interface Segment {
  /** Position in the skeleton where the data goes (right after header and pad). */
  insertAt: number;
  /** Position in the skeleton of the ext 32 big-endian length field. */
  lengthAt: number;
  headerLength: number;
  bytes: Uint8Array;
}

interface EncodeContext {
  segments: Segment[];
}

function padTo(n: number): number {
  return (ALIGN - (n % ALIGN)) % ALIGN;
}

function tensorHeader(dtypeCode: number, shape: readonly number[], payloadPos: number): Uint8Array {
  if (shape.length > MAX_TENSOR_DIMS) {
    throw new RangeError(`Cannot encode a tensor with ${shape.length} dims: at most ${MAX_TENSOR_DIMS} are supported`);
  }
  const used = 4 + 4 * shape.length;
  const dataOffset = used + padTo(payloadPos + used);
  const header = new Uint8Array(dataOffset);
  const view = new DataView(header.buffer);
  header[0] = dtypeCode;
  header[1] = shape.length;
  header[2] = dataOffset;
  for (let i = 0; i < shape.length; i++) {
    const dim = shape[i]!;
    if (dim > 0xffffffff) throw new RangeError(`Cannot encode tensor dim ${dim}: dims must fit in 32 bits`);
    view.setUint32(4 + 4 * i, dim, true);
  }
  return header;
}

function spliced(context: EncodeContext, bytes: Uint8Array, header: (payloadPos: number) => Uint8Array) {
  return (payloadPos: number): Uint8Array => {
    const head = header(payloadPos);
    context.segments.push({
      insertAt: payloadPos + head.length,
      lengthAt: payloadPos - 5,
      headerLength: head.length,
      bytes,
    });
    return head;
  };
}

class CoopExtensions implements ExtensionCodecType<EncodeContext> {
  tryToEncode(object: unknown, context: EncodeContext): ExtData | null {
    if (object instanceof Tensor) {
      const code = Object.hasOwn(DTYPE_CODES, object.dtype) ? DTYPE_CODES[object.dtype as DType] : undefined;
      if (code === undefined) throw new RangeError(`Cannot encode a tensor of unknown dtype "${object.dtype}"`);
      return new ExtData(TENSOR_EXT, spliced(context, object.bytes(), (pos) => tensorHeader(code, object.shape, pos)));
    }
    if (typeof object === "bigint") return new ExtData(BIGINT_EXT, new TextEncoder().encode(object.toString()));
    if (object instanceof Uint8Array && object.byteLength >= SPLICE_BYTES_MIN) {
      // One header byte says how much tail padding follows the bytes, so decode can return exactly them.
      return new ExtData(BYTES_EXT, spliced(context, object, () => Uint8Array.of(padTo(object.byteLength))));
    }
    if (object instanceof Date) return new ExtData(EXT_TIMESTAMP, encodeTimestampExtension(object)!);
    return null;
  }

  decode(data: Uint8Array, extType: number): unknown {
    switch (extType) {
      case TENSOR_EXT:
        return decodeTensor(data);
      case BIGINT_EXT:
        return decodeBigint(data);
      case BYTES_EXT:
        return decodeBytes(data);
      case EXT_TIMESTAMP:
        return decodeTimestampExtension(data);
      default:
        throw new DecodeError(`Cannot decode msgpack extension type ${extType}: unknown type`);
    }
  }
}

const EXTENSIONS = new CoopExtensions();
const CONTEXT: EncodeContext = { segments: [] };
const ENCODER = new Encoder<EncodeContext>({ extensionCodec: EXTENSIONS, context: CONTEXT, ignoreUndefined: false });
// One decoder per power-of-two frame size, its length limits set to that size: no str, bin, ext, array or map in
// a frame can be longer than the frame (the defaults are 2^32-1). `checkFrameBounds` bounds the sum of lengths.
const DECODERS = new Map<number, Decoder<EncodeContext>>();
const MIN_LIMIT = 1024;

function decoderFor(byteLength: number): Decoder<EncodeContext> {
  const limit = Math.max(MIN_LIMIT, 2 ** Math.ceil(Math.log2(Math.max(1, byteLength))));
  let decoder = DECODERS.get(limit);
  if (decoder === undefined) {
    decoder = new Decoder<EncodeContext>({
      extensionCodec: EXTENSIONS,
      context: CONTEXT,
      maxStrLength: limit,
      maxBinLength: limit,
      maxExtLength: limit,
      maxArrayLength: limit,
      maxMapLength: limit,
    });
    DECODERS.set(limit, decoder);
  }
  return decoder;
}
const MAX_EXT32 = 0xffffffff;

/** Encodes a value (objects, arrays, primitives, bigints, Dates, Uint8Arrays and {@link Tensor}s) as msgpack. */
export function encode(value: unknown): Uint8Array {
  // The shared encoder and context are safe because encoding is synchronous and not re-entrant here.
  CONTEXT.segments = [];
  let skeleton: Uint8Array;
  try {
    skeleton = ENCODER.encodeSharedRef(value);
  } catch (error) {
    if (error instanceof RangeError || error instanceof MessageTooLargeError) throw error;
    throw new TypeError(`Cannot encode value: ${(error as Error).message}`, { cause: error });
  }
  const segments = CONTEXT.segments;
  CONTEXT.segments = [];
  if (segments.length === 0) return skeleton.slice();

  let total = skeleton.length;
  for (const segment of segments) total += segment.bytes.byteLength + padTo(segment.bytes.byteLength);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let from = 0;
  let shift = 0;
  for (const segment of segments) {
    out.set(skeleton.subarray(from, segment.insertAt), from + shift);
    const dataLength = segment.bytes.byteLength;
    const padded = dataLength + padTo(dataLength);
    const payloadLength = segment.headerLength + padded;
    if (payloadLength > MAX_EXT32) {
      throw new MessageTooLargeError(`Cannot encode ${dataLength} bytes in one tensor: msgpack ext 32 holds < 4 GiB`);
    }
    view.setUint32(segment.lengthAt + shift, payloadLength, false);
    out.set(segment.bytes, segment.insertAt + shift);
    from = segment.insertAt;
    shift += padded;
  }
  out.set(skeleton.subarray(from), from + shift);
  return out;
}

/**
 * Decodes a msgpack frame. Tensors are zero-copy views over `bytes` when their data is aligned in memory, copies
 * otherwise. Throws only {@link DecodeError}; memory use is linear in the frame size, whatever its headers claim.
 */
export function decode(bytes: Uint8Array): unknown {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError("Cannot decode frame: expected a Uint8Array");
  try {
    checkFrameBounds(bytes);
    return decoderFor(bytes.byteLength).decode(bytes);
  } catch (error) {
    if (error instanceof DecodeError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new DecodeError(`Cannot decode frame of ${bytes.byteLength} bytes: ${reason}`, { cause: error });
  }
}

function decodeBytes(payload: Uint8Array): Uint8Array {
  const pad = payload[0];
  if (pad === undefined || pad >= ALIGN || payload.byteLength - 1 < pad) {
    throw new DecodeError(`Cannot decode bytes extension: bad padding header in ${payload.byteLength} bytes`);
  }
  return payload.subarray(1, payload.byteLength - pad);
}

function decodeBigint(data: Uint8Array): bigint {
  const text = new TextDecoder().decode(data);
  if (!/^-?\d{1,400}$/.test(text)) throw new DecodeError(`Cannot decode bigint: invalid digits "${text.slice(0, 40)}"`);
  return BigInt(text);
}

function decodeTensor(payload: Uint8Array): Tensor {
  if (payload.byteLength < 4) {
    throw new DecodeError(`Cannot decode tensor: header truncated (${payload.byteLength} bytes)`);
  }
  const code = payload[0]!;
  const ndim = payload[1]!;
  const dataOffset = payload[2]!;
  const dtype = DTYPES_BY_CODE[code];
  if (dtype === undefined) throw new DecodeError(`Cannot decode tensor: unknown dtype code ${code}`);
  if (ndim > MAX_TENSOR_DIMS) throw new DecodeError(`Cannot decode tensor: ${ndim} dims exceeds ${MAX_TENSOR_DIMS}`);
  if (payload[3] !== 0) throw new DecodeError(`Cannot decode tensor: reserved header byte is ${payload[3]}`);
  const used = 4 + 4 * ndim;
  if (dataOffset < used || dataOffset - used >= ALIGN) {
    throw new DecodeError(`Cannot decode tensor: data offset ${dataOffset} is inconsistent with ${ndim} dims`);
  }
  if (payload.byteLength < dataOffset) {
    throw new DecodeError(`Cannot decode tensor: header truncated (${payload.byteLength} < ${dataOffset} bytes)`);
  }
  const header = new DataView(payload.buffer, payload.byteOffset, dataOffset);
  const shape: number[] = new Array(ndim);
  let size = 1;
  for (let i = 0; i < ndim; i++) {
    const dim = header.getUint32(4 + 4 * i, true);
    shape[i] = dim;
    size *= dim;
  }
  const width = DTYPE_BYTES[dtype];
  const dataLength = size * width;
  const available = payload.byteLength - dataOffset;
  // Compared against bytes actually received, so a forged shape can never make us allocate more than the frame.
  if (!Number.isSafeInteger(dataLength) || dataLength > available || available - dataLength !== padTo(dataLength)) {
    throw new DecodeError(
      `Cannot decode ${dtype} tensor of shape [${
        shape.join(", ")
      }]: needs ${dataLength} data bytes, frame has ${available}`,
    );
  }
  const bytes = payload.subarray(dataOffset, dataOffset + dataLength);
  // Zero-copy when the frame happens to place the data aligned to the element size; otherwise one copy (with
  // `new Uint8Array`: frames from NATS are Node Buffers, whose slice() is a view, not a copy).
  const data: TensorData = viewAs(dtype, bytes.byteOffset % width === 0 ? bytes : new Uint8Array(bytes));
  return new Tensor(dtype, shape, data);
}
