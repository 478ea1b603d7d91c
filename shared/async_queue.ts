/**
 * An unbounded push queue read as an async iterator: producers `push` from callbacks, one consumer iterates.
 * Closing lets the consumer finish the items already queued, then ends the iteration.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  #items: T[] = [];
  #head = 0;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #closed = false;
  #onReturn: (() => void) | undefined;

  /** `onReturn` runs when the consumer stops iterating early (break/return). */
  constructor(onReturn?: () => void) {
    this.#onReturn = onReturn;
  }

  /** Items waiting to be consumed. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** True once closed (queued items may still be pending). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds an item (ignored after close). */
  push(item: T): void {
    if (this.#closed) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ value: item, done: false });
      return;
    }
    this.#items.push(item);
  }

  /** Ends the iteration after the queued items. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head]!;
      this.#items[this.#head++] = undefined as T;
      // Compact now and then so a long-lived queue does not keep a growing array of holes.
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    if (this.#waiter !== undefined) return Promise.reject(new Error("AsyncQueue supports a single consumer"));
    return new Promise((resolve) => this.#waiter = resolve);
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    this.#items = [];
    this.#head = 0;
    this.#onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
