/** Small actors for the demo, the benchmark and tests: a counter and a tensor echo. */
import { z } from "zod";
import { actorContext, registerActor } from "./core/mod.ts";
import type { Tensor } from "../shared/mod.ts";

/** A counter; `incr` validates its argument, `get` is idempotent. */
export class Counter {
  #value: number;

  constructor(start = 0) {
    this.#value = start;
  }

  /** Adds `by` and returns the new value. */
  incr(by = 1): number {
    this.#value += by;
    return this.#value;
  }

  /** The current value. */
  get(): number {
    return this.#value;
  }

  /** Where this actor runs. */
  where(): { nodeId: string; pid: number; restarts: number } {
    const context = actorContext();
    return { nodeId: context.nodeId, pid: Deno.pid, restarts: context.restarts };
  }
}
registerActor(Counter, {
  methods: { incr: { args: z.tuple([z.number().finite()]).or(z.tuple([])) }, get: { idempotent: true } },
});

/** Returns what it gets: used to measure call and tensor transfer overhead. */
export class Echo {
  /** Returns its argument unchanged. */
  echo<T>(value: T): T {
    return value;
  }

  /** Returns a tensor's byte length (the tensor travels one way only). */
  size(value: Tensor): number {
    return value.data.byteLength;
  }
}
registerActor(Echo, { methods: { echo: { idempotent: true }, size: { idempotent: true } } });
