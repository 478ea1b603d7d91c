/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header mapping
 * each name to `{dtype, shape, data_offsets}` relative to the data section, then the raw little-endian bytes.
 */
import { CoopError } from "../../shared/errors.ts";
import { type DType, DTYPE_BYTES, shapeSize, Tensor, viewAs } from "../../shared/tensor.ts";

/** Raised when a safetensors file is malformed or holds a dtype Coop does not carry. */
export class SafetensorsError extends CoopError {
  override name = "SafetensorsError";
}

const TO_DTYPE: Readonly<Record<string, DType>> = {
  F64: "float64",
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  I64: "int64",
  I32: "int32",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};

/** The safetensors dtype name of each Coop dtype. */
export const FROM_DTYPE: Readonly<Record<DType, string>> = {
  float64: "F64",
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
  int32: "I32",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

/** Tensors keyed by name, plus the file's optional string metadata. */
export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Parses safetensors bytes; tensors view `bytes` when aligned and copy otherwise. */
export function parseSafetensors(bytes: Uint8Array, options: { source?: string } = {}): SafetensorsFile {
  const where = options.source ?? "safetensors data";
  if (bytes.byteLength < 8) throw new SafetensorsError(`Cannot read ${where}: ${bytes.byteLength} bytes is too short`);
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength) {
    throw new SafetensorsError(`Cannot read ${where}: header length ${headerLength} runs past the end of the file`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new SafetensorsError(`Cannot read ${where}: header is not JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new SafetensorsError(`Cannot read ${where}: header is not a JSON object`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const entry = raw as HeaderEntry;
    const dtype = TO_DTYPE[entry?.dtype];
    if (dtype === undefined) {
      throw new SafetensorsError(`Cannot read tensor "${name}" in ${where}: unsupported dtype ${entry?.dtype}`);
    }
    const [begin, end] = entry.data_offsets ?? [];
    let size: number;
    try {
      size = shapeSize(entry.shape);
    } catch {
      throw new SafetensorsError(
        `Cannot read tensor "${name}" in ${where}: invalid shape ${JSON.stringify(entry.shape)}`,
      );
    }
    if (
      typeof begin !== "number" || typeof end !== "number" || begin < 0 || end > dataLength ||
      end - begin !== size * DTYPE_BYTES[dtype]
    ) {
      throw new SafetensorsError(
        `Cannot read tensor "${name}" in ${where}: offsets ${JSON.stringify(entry.data_offsets)} do not fit ` +
          `${dtype} [${entry.shape.join(", ")}] in ${dataLength} data bytes`,
      );
    }
    let slice = bytes.subarray(dataStart + begin, dataStart + end);
    if (slice.byteOffset % DTYPE_BYTES[dtype] !== 0) slice = slice.slice();
    tensors.set(name, new Tensor(dtype, entry.shape, viewAs(dtype, slice)));
  }
  return { tensors, metadata };
}

/** Serializes tensors (in the map's order) to safetensors bytes; the header is space-padded to 8 bytes. */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, Tensor>,
  options: { metadata?: Record<string, string> } = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const [name, tensor] of tensors) {
    const length = tensor.data.byteLength;
    header[name] = {
      dtype: FROM_DTYPE[tensor.dtype],
      shape: [...tensor.shape],
      data_offsets: [offset, offset + length],
    };
    offset += length;
  }
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  // Readers may view tensors in place, so the data section starts 8-byte aligned.
  const pad = (8 - (headerBytes.byteLength % 8)) % 8;
  const out = new Uint8Array(8 + headerBytes.byteLength + pad + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength + pad), true);
  out.set(headerBytes, 8);
  out.fill(0x20, 8 + headerBytes.byteLength, 8 + headerBytes.byteLength + pad);
  let cursor = 8 + headerBytes.byteLength + pad;
  for (const tensor of tensors.values()) {
    out.set(tensor.bytes(), cursor);
    cursor += tensor.data.byteLength;
  }
  return out;
}

/** Reads a `.safetensors` file from disk. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new SafetensorsError(`Cannot read safetensors file ${path}: ${(error as Error).message}`);
  }
  return parseSafetensors(bytes, { source: path });
}

/** Writes tensors to a `.safetensors` file. */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor>,
  options: { metadata?: Record<string, string> } = {},
): Promise<void> {
  await Deno.writeFile(path, serializeSafetensors(tensors, options));
}

/** Converts a float16/bfloat16/float64/float32 tensor to float32 (models compute in float32). */
export function toFloat32(tensor: Tensor): Tensor<"float32"> {
  if (tensor.dtype === "float32") return tensor as Tensor<"float32">;
  const out = new Float32Array(tensor.size);
  if (tensor.dtype === "bfloat16") {
    const words = tensor.data as Uint16Array;
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < words.length; i++) bits[i] = words[i]! << 16;
  } else if (tensor.dtype === "float16") {
    const words = tensor.data as Uint16Array;
    for (let i = 0; i < words.length; i++) out[i] = halfToFloat(words[i]!);
  } else if (tensor.dtype === "float64") {
    out.set(tensor.data as Float64Array);
  } else {
    throw new SafetensorsError(`Cannot convert a ${tensor.dtype} tensor to float32`);
  }
  return new Tensor("float32", tensor.shape, out);
}

function halfToFloat(word: number): number {
  const sign = word & 0x8000 ? -1 : 1;
  const exponent = (word >> 10) & 0x1f;
  const fraction = word & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
