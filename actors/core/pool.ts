/**
 * Actor pools (Ray's `ActorPool`): spread work over a fixed set of actors. `submit` goes to the least loaded
 * actor; `map` yields results in input order, `mapUnordered` as they finish. At most `perActor` tasks per actor
 * are in flight from a map, so a slow actor does not collect a queue while others idle.
 */
import { ConfigError } from "../../shared/mod.ts";
import type { ActorHandle } from "./handle.ts";

/** Options for {@link ActorPool}. */
export interface PoolOptions {
  /** Tasks in flight per actor during `map`/`mapUnordered`. Default 1. */
  perActor?: number;
}

/** A pool of actors of one class. */
export class ActorPool<T> {
  readonly actors: readonly ActorHandle<T>[];
  readonly #load: (handle: ActorHandle<T>) => number;
  readonly #perActor: number;
  readonly #busy = new Map<ActorHandle<T>, number>();

  constructor(actors: ActorHandle<T>[], load: (handle: ActorHandle<T>) => number, options: PoolOptions = {}) {
    if (actors.length === 0) throw new ConfigError("Cannot make an actor pool without actors");
    this.actors = [...actors];
    this.#load = load;
    this.#perActor = options.perActor ?? 1;
    if (!(this.#perActor >= 1)) throw new ConfigError(`Invalid perActor ${options.perActor}: expected at least 1`);
  }

  /** Runs `task` on the least loaded actor (pending calls from this client, then this pool's own count). */
  async submit<R>(task: (actor: ActorHandle<T>) => Promise<R>): Promise<R> {
    let best = this.actors[0]!;
    let bestLoad = Infinity;
    for (const actor of this.actors) {
      const load = this.#load(actor) + (this.#busy.get(actor) ?? 0);
      if (load < bestLoad) {
        best = actor;
        bestLoad = load;
      }
    }
    this.#busy.set(best, (this.#busy.get(best) ?? 0) + 1);
    try {
      return await task(best);
    } finally {
      this.#busy.set(best, (this.#busy.get(best) ?? 1) - 1);
    }
  }

  /** Applies `task` to every value, yielding results in input order. */
  async *map<V, R>(task: (actor: ActorHandle<T>, value: V) => Promise<R>, values: Iterable<V>): AsyncGenerator<R> {
    const window: Promise<R>[] = [];
    const limit = this.actors.length * this.#perActor;
    for (const value of values) {
      window.push(this.submit((actor) => task(actor, value)));
      // Keep rejections from surfacing as unhandled while they wait their turn.
      window[window.length - 1]!.catch(() => {});
      if (window.length >= limit) yield await window.shift()!;
    }
    while (window.length > 0) yield await window.shift()!;
  }

  /** Applies `task` to every value, yielding results as they complete. */
  async *mapUnordered<V, R>(
    task: (actor: ActorHandle<T>, value: V) => Promise<R>,
    values: Iterable<V>,
  ): AsyncGenerator<R> {
    const running = new Map<number, Promise<[number, R]>>();
    const limit = this.actors.length * this.#perActor;
    let next = 0;
    const iterator = values[Symbol.iterator]();
    const start = (): boolean => {
      const step = iterator.next();
      if (step.done) return false;
      const key = next++;
      const promise = this.submit((actor) => task(actor, step.value)).then((result): [number, R] => [key, result]);
      // The first rejection ends the iteration; the others must not surface as unhandled.
      promise.catch(() => {});
      running.set(key, promise);
      return true;
    };
    while (running.size < limit && start());
    while (running.size > 0) {
      const [key, result] = await Promise.race(running.values());
      running.delete(key);
      yield result;
      if (running.size < limit) start();
    }
  }
}
