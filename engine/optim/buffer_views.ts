/**
 * Views of memory another thread owns, by address (Deno FFI): how the AdamW pool's workers see the trainer's
 * parameter, gradient and moment buffers without copying or transferring them (adamw_pool.ts says why).
 */
import type { AdamWBuffers } from "./adamw_inplace.ts";

/** One tensor's buffers as sent to a worker: the address of each float32 array, and their length. */
export interface BufferAddresses {
  param: bigint;
  grad: bigint;
  m: bigint;
  v: bigint;
  length: number;
}

function view(address: bigint, length: number): Float32Array {
  const pointer = Deno.UnsafePointer.create(address);
  if (pointer === null) throw new RangeError("null buffer address");
  return new Float32Array(new Deno.UnsafePointerView(pointer).getArrayBuffer(length * 4));
}

/** Views of the registered tensors' buffers, from the addresses a "buffers" message carries. */
export function viewBuffers(sets: readonly BufferAddresses[]): AdamWBuffers[] {
  return sets.map((s) => ({
    param: view(s.param, s.length),
    grad: view(s.grad, s.length),
    m: view(s.m, s.length),
    v: view(s.v, s.length),
  }));
}
