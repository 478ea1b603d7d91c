/**
 * A full V8 garbage collection on demand. onnxruntime-node 1.30 returns every fetched output as a fresh JS copy,
 * even when the caller pre-allocated that output and onnxruntime wrote into it; a trainer that fetches its gradients
 * into buffers of its own thus gets a gradient-sized copy per step. Nothing in the step allocates on the JS heap
 * afterwards, so V8 sees no reason to collect, and the garbage copy (2 GB for a 0.5B model) is still resident during
 * the next step's run. Collecting right after the run returns those pages at once.
 */
import v8 from "node:v8";
import vm from "node:vm";

let collect: (() => void) | null | undefined;

/** Runs a full garbage collection; false when this runtime does not allow it (nothing happens then). */
export function collectGarbage(): boolean {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString("--expose-gc");
      collect = vm.runInNewContext("gc") as () => void;
    } catch {
      collect = null;
    }
  }
  if (collect === null) return false;
  collect();
  return true;
}
