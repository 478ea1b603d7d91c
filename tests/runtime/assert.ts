/** Minimal assertions for the runtime tests (JSR's @std/assert is unreachable here), on top of node:assert. */
import nodeAssert from "node:assert";

/** Throws unless `condition` is truthy. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(message);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Throws unless `value` is an instance of `cls`. */
export function assertInstanceOf<T>(value: unknown, cls: new (...args: never[]) => T): asserts value is T {
  if (!(value instanceof cls)) {
    throw new Error(`Expected an instance of ${cls.name}, got ${(value as Error)?.name ?? typeof value}`);
  }
}

/** Awaits `fn`, expects it to reject with an instance of `cls` whose message includes `includes`; returns it. */
export async function assertRejects<T extends Error>(
  fn: () => Promise<unknown>,
  cls: new (...args: never[]) => T,
  includes?: string,
): Promise<T> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`Expected a ${cls.name} rejection, but the promise resolved`);
  if (!(error instanceof cls)) {
    throw new Error(`Expected ${cls.name}, got ${(error as Error)?.name}: ${(error as Error)?.message}`);
  }
  if (includes !== undefined && !error.message.includes(includes)) {
    throw new Error(`Expected the ${cls.name} message to include "${includes}", got: ${error.message}`);
  }
  return error;
}

/** Calls `fn`, expects it to throw an instance of `cls` whose message includes `includes`; returns it. */
export function assertThrows<T extends Error>(
  fn: () => unknown,
  cls: new (...args: never[]) => T,
  includes?: string,
): T {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof cls)) {
      throw new Error(`Expected ${cls.name}, got ${(error as Error)?.name}: ${(error as Error)?.message}`);
    }
    if (includes !== undefined && !error.message.includes(includes)) {
      throw new Error(`Expected the ${cls.name} message to include "${includes}", got: ${error.message}`);
    }
    return error;
  }
  throw new Error(`Expected a ${cls.name} to be thrown`);
}
