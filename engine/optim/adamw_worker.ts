/**
 * The worker side of the parallel AdamW pool (adamw_pool.ts): holds views of the trainer's buffers, sent once as
 * addresses with "buffers" (the calling thread keeps them alive and attached), and runs `adamwInPlace` over the
 * ranges each "step" message names, then answers with the step id.
 */
import { parentPort } from "node:worker_threads";
import { type AdamWBuffers, adamwInPlace, type AdamWInPlaceOptions, type AdamWInPlaceStep } from "./adamw_inplace.ts";
import { type BufferAddresses, viewBuffers } from "./buffer_views.ts";

/** A range of one registered tensor: [tensor index, start, end, decays]. */
export type Segment = [number, number, number, boolean];

/** The messages a worker takes. */
export type PoolRequest =
  | { kind: "ping"; id: number }
  | { kind: "buffers"; sets: BufferAddresses[] }
  | {
    kind: "step";
    id: number;
    step: AdamWInPlaceStep;
    options: Omit<AdamWInPlaceOptions, "decays">;
    segments: Segment[];
  };

/** A worker's answer to a step. */
export interface PoolReply {
  id: number;
  error?: string;
}

let tensors: AdamWBuffers[] = [];

function handle(request: PoolRequest): PoolReply | null {
  if (request.kind === "buffers") {
    tensors = viewBuffers(request.sets);
    return null;
  }
  if (request.kind === "ping") return { id: request.id };
  try {
    for (const [index, start, end, decays] of request.segments) {
      const buffers = tensors[index];
      if (buffers === undefined) throw new RangeError(`no registered tensor ${index}`);
      adamwInPlace(buffers, request.step, { ...request.options, decays }, { start, end });
    }
    return { id: request.id };
  } catch (e) {
    return { id: request.id, error: (e as Error).message };
  }
}

// Only when loaded as a worker (parentPort is null elsewhere, so importing this file is inert).
parentPort?.on("message", (request: PoolRequest) => {
  const reply = handle(request);
  if (reply !== null) parentPort!.postMessage(reply);
});
