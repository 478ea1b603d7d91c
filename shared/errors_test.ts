import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import {
  ActorCallError,
  ActorDiedError,
  BackpressureError,
  BadArgumentsError,
  BlobIntegrityError,
  CallTimeoutError,
  CancelledError,
  ConfigError,
  CoopError,
  DecodeError,
  errorFromWire,
  errorToWire,
  MessageTooLargeError,
  NoRespondersError,
  NotFoundError,
  PlacementError,
  UnknownActorClassError,
  UnknownMethodError,
  type WireError,
} from "./errors.ts";

function assertInstanceOf<T>(value: unknown, cls: abstract new (...args: never[]) => T): asserts value is T {
  assert(value instanceof cls, `expected an instance of ${cls.name}, got ${String(value)}`);
}

const CLASSES = [
  ActorDiedError,
  CancelledError,
  CallTimeoutError,
  BackpressureError,
  UnknownActorClassError,
  UnknownMethodError,
  BadArgumentsError,
  DecodeError,
  MessageTooLargeError,
  NoRespondersError,
  PlacementError,
  ConfigError,
  BlobIntegrityError,
  NotFoundError,
];

Deno.test("errors - every class sets name and is a CoopError", () => {
  for (const cls of CLASSES) {
    const error = new cls("boom");
    assertEquals(error.name, cls.name);
    assertInstanceOf(error, CoopError);
    assertInstanceOf(error, Error);
  }
  assertEquals(new ActorCallError("x", { remoteName: "TypeError" }).name, "ActorCallError");
});

Deno.test("errors - known classes round trip by name with remote stack", () => {
  for (const cls of CLASSES) {
    const original = new cls(`Cannot do it: ${cls.name}`);
    const wire = errorToWire(original);
    assertEquals(wire.name, cls.name);
    const rebuilt = errorFromWire(structuredClone(wire));
    assertInstanceOf(rebuilt, cls);
    assertEquals(rebuilt.message, original.message);
    assertEquals((rebuilt as CoopError).remoteStack, original.stack);
    assert(rebuilt.stack?.includes("--- remote ---"));
  }
});

Deno.test("errors - unknown remote class becomes ActorCallError carrying the remote name", () => {
  const wire = errorToWire(new RangeError("index 7 out of range"));
  const rebuilt = errorFromWire(wire);
  assertInstanceOf(rebuilt, ActorCallError);
  assertEquals(rebuilt.remoteName, "RangeError");
  assertEquals(rebuilt.message, "index 7 out of range");
  assert(rebuilt.remoteStack?.includes("RangeError"));
});

Deno.test("errors - cause chain survives, and re-forwarding keeps the original remote name", () => {
  const inner = new TypeError("bad input");
  const outer = new BadArgumentsError('Cannot call "update": bad arguments', { cause: inner });
  const rebuilt = errorFromWire(errorToWire(outer));
  assertInstanceOf(rebuilt, BadArgumentsError);
  assertInstanceOf(rebuilt.cause, ActorCallError);
  assertEquals((rebuilt.cause as ActorCallError).remoteName, "TypeError");

  // A remote error passed through a second hop still reports the first remote class.
  const twice = errorFromWire(errorToWire(errorFromWire(errorToWire(inner))));
  assertInstanceOf(twice, ActorCallError);
  assertEquals(twice.remoteName, "TypeError");
  assertEquals(twice.remoteStack, inner.stack);
});

Deno.test("errors - cyclic causes and non-Error values do not break errorToWire", () => {
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  a.cause = b;
  let depth = 0;
  for (let w: WireError | undefined = errorToWire(a); w; w = w.cause) depth++;
  assert(depth <= 9);

  assertEquals(errorToWire("plain string").message, "plain string");
  assertEquals(errorToWire({ code: 3 }).message, 'Non-Error value thrown: {"code":3}');
  assertEquals(errorToWire(undefined).name, "Error");
  const big = errorToWire(10n);
  assertEquals(big.name, "Error");
});

Deno.test("errors - forged wire records rebuild without throwing", () => {
  const forged = [
    {},
    { name: 5, message: null },
    { name: "__proto__", message: "x" },
    { name: "constructor", message: "x" },
    { name: "DecodeError", message: "x", cause: "nope" },
  ] as unknown as WireError[];
  for (const wire of forged) assertInstanceOf(errorFromWire(wire), Error);
  assertInstanceOf(errorFromWire(forged[2]!), ActorCallError);
});

Deno.test("errorFromWire - every exported CoopError class comes back as itself, its name equal to its class", async () => {
  const errors = await import("./errors.ts");
  const classes = Object.values(errors).filter((value): value is typeof errors.CoopError =>
    typeof value === "function" && value.prototype instanceof errors.CoopError && value !== errors.ActorCallError
  );
  assertEquals(classes.length >= 14, true);
  for (const cls of classes) {
    const sent = new cls("boom");
    assertEquals(sent.name, cls.name);
    const back = errorFromWire(errorToWire(sent));
    assertEquals(back instanceof cls, true, `${cls.name} came back as ${back.name}`);
  }
});
