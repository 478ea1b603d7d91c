/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header mapping
 * each name to `{dtype, shape, data_offsets}` relative to the data section, then the raw little-endian bytes.
 */
import { CoopError } from "../../shared/mod.ts";
import { type DType, DTYPE_BYTES, shapeSize, Tensor, viewAs } from "../../shared/mod.ts";

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

/** Options for {@link serializeSafetensors} and {@link safetensorsLayout}. */
export interface SerializeOptions {
  metadata?: Record<string, string>;
  /**
   * Start the data section and every tensor at a multiple of this many bytes (e.g. 4096: page-aligned, so a mapped
   * file's tensors can be viewed in place). The gaps are zeros, which Coop's reader accepts and the strict Rust
   * reader does not: leave it unset for checkpoints (then only the data section is 8-aligned, tensors packed).
   */
  align?: number;
}

/** Where each part of a serialized file goes. */
export interface SafetensorsLayout {
  /** The 8-byte length and the JSON header, space-padded up to the data section. */
  head: Uint8Array;
  /** Absolute file offset of each tensor, in map order. */
  offsets: number[];
  /** Total file size. */
  bytes: number;
}

/** Lays tensors (in the map's order) out as a safetensors file without copying them. */
export function safetensorsLayout(
  tensors: ReadonlyMap<string, Tensor>,
  options: SerializeOptions = {},
): SafetensorsLayout {
  const align = options.align ?? 1;
  if (!Number.isInteger(align) || align < 1) throw new SafetensorsError(`Invalid alignment ${align}: expected >= 1`);
  const up = (n: number, to: number) => Math.ceil(n / to) * to;
  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) header.__metadata__ = options.metadata;
  const relative: number[] = [];
  let offset = 0;
  for (const [name, tensor] of tensors) {
    offset = up(offset, align);
    relative.push(offset);
    const length = tensor.data.byteLength;
    header[name] = {
      dtype: FROM_DTYPE[tensor.dtype],
      shape: [...tensor.shape],
      data_offsets: [offset, offset + length],
    };
    offset += length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Readers may view tensors in place, so the data section starts at least 8-byte aligned.
  const dataStart = up(8 + json.byteLength, Math.max(8, align));
  const head = new Uint8Array(dataStart).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(dataStart - 8), true);
  head.set(json, 8);
  return { head, offsets: relative.map((r) => dataStart + r), bytes: dataStart + offset };
}

/** Serializes tensors (in the map's order) to safetensors bytes; the header is space-padded to 8 bytes. */
export function serializeSafetensors(tensors: ReadonlyMap<string, Tensor>, options: SerializeOptions = {}): Uint8Array {
  return layoutBytes(tensors, safetensorsLayout(tensors, options));
}

/** Copies tensors into one buffer laid out as `layout` (from {@link safetensorsLayout} of the same tensors). */
export function layoutBytes(tensors: ReadonlyMap<string, Tensor>, layout: SafetensorsLayout): Uint8Array {
  const out = new Uint8Array(layout.bytes);
  out.set(layout.head, 0);
  [...tensors.values()].forEach((t, i) => out.set(t.bytes(), layout.offsets[i]!));
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
  // Streamed tensor by tensor: one buffer of the whole file would double a large model's (or its optimizer state's)
  // memory while a checkpoint is written (+4 GiB for a 0.5B model's AdamW moments).
  const layout = safetensorsLayout(tensors, options);
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let at = 0;
    const put = async (bytes: Uint8Array) => {
      for (let done = 0; done < bytes.byteLength;) done += await file.write(bytes.subarray(done));
      at += bytes.byteLength;
    };
    await put(layout.head);
    let i = 0;
    for (const t of tensors.values()) {
      const offset = layout.offsets[i++]!;
      if (offset > at) await put(new Uint8Array(offset - at));
      await put(t.bytes());
    }
    if (layout.bytes > at) await put(new Uint8Array(layout.bytes - at));
  } finally {
    file.close();
  }
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
