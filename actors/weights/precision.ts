/**
 * Fewer bytes on the wire: weights cast to bfloat16 or float16 before publishing, for consumers that ask for it
 * (half the bytes of float32; models here compute in float32, so the consumer widens them again on load).
 * bfloat16 rounds to nearest even, like torch's `.to(torch.bfloat16)`.
 */
import { Tensor } from "../../shared/mod.ts";
import { WeightPlaneError } from "./errors.ts";
import type { WeightDtype } from "./segment.ts";

/** `tensors` in `dtype` (float tensors cast; same map when nothing changes). */
export function castTensors(tensors: ReadonlyMap<string, Tensor>, dtype: WeightDtype): ReadonlyMap<string, Tensor> {
  if ([...tensors.values()].every((t) => t.dtype === dtype)) return tensors;
  const out = new Map<string, Tensor>();
  for (const [name, tensor] of tensors) out.set(name, castTensor(tensor, dtype, name));
  return out;
}

function castTensor(tensor: Tensor, dtype: WeightDtype, name: string): Tensor {
  if (tensor.dtype === dtype) return tensor;
  if (tensor.dtype !== "float32") {
    throw new WeightPlaneError(`Cannot publish tensor "${name}" as ${dtype}: it is ${tensor.dtype}, not float32`);
  }
  const src = tensor.data as Float32Array;
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  if (dtype === "bfloat16") {
    for (let i = 0; i < bits.length; i++) {
      const b = bits[i]!;
      // NaN stays NaN (keep a mantissa bit); everything else rounds to nearest, ties to even.
      out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    }
  } else {
    for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]!);
  }
  return new Tensor(dtype, tensor.shape, out);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half, round to nearest even (overflow → ±Inf). */
function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const half = mant >>> 13;
  const rest = mant & 0x1fff;
  let out = (e << 10) | half;
  // A carry out of the mantissa bumps the exponent, up to Inf: the bit layout makes that the right answer.
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) out++;
  return sign | out;
}
