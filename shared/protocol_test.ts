import { assertEquals, assertThrows } from "../tests/runtime/assert.ts";
import { encode } from "./codec.ts";
import { ActorDiedError, BadArgumentsError, DecodeError } from "./errors.ts";
import {
  coordinatorRequestSchema,
  decodeCall,
  encodeCall,
  errorReply,
  okReply,
  parseMessage,
  readReply,
} from "./protocol.ts";

Deno.test("protocol - call frames round trip; anything else is a DecodeError or BadArgumentsError", () => {
  assertEquals(decodeCall(encodeCall("incr", [5])), { method: "incr", args: [5] });
  assertThrows(() => decodeCall(Uint8Array.of(0xc1)), DecodeError);
  assertThrows(() => decodeCall(encode(["incr"])), DecodeError, "[method, args]");
  assertThrows(() => decodeCall(encode([7, []])), DecodeError);
  assertThrows(() => decodeCall(encode(["incr", 5])), BadArgumentsError, "array");
  // A call id (for resends after a NATS disconnect) is a short string.
  assertEquals(decodeCall(encodeCall("incr", [5], "c.1")), { method: "incr", args: [5], callId: "c.1" });
  assertThrows(() => decodeCall(encode(["incr", [], 7])), DecodeError, "call id");
  assertThrows(() => decodeCall(encode(["incr", [], "x".repeat(65)])), DecodeError, "call id");
  assertThrows(() => decodeCall(encode(["incr", [], "a", "b"])), DecodeError);
});

Deno.test("protocol - replies carry values or rebuild typed errors", () => {
  assertEquals(readReply(okReply({ a: 1 }), "x"), { a: 1 });
  assertThrows(() => readReply(errorReply(new ActorDiedError("gone")), "x"), ActorDiedError, "gone");
  assertThrows(() => readReply(encode([2, 1]), "x"), DecodeError, "[status, value]");
});

Deno.test("protocol - control messages are validated, naming the field", () => {
  const ok = parseMessage(coordinatorRequestSchema, encode({ op: "kill", actor: "a-1" }), "request");
  assertEquals(ok, { op: "kill", actor: "a-1", graceful: true });
  assertThrows(
    () => parseMessage(coordinatorRequestSchema, encode({ op: "kill", actor: "a.b" }), "request"),
    BadArgumentsError,
    "actor",
  );
  assertThrows(
    () =>
      parseMessage(
        coordinatorRequestSchema,
        encode({ op: "spawn", className: "C", options: { maxRestarts: "x" }, args: new Uint8Array(1) }),
        "request",
      ),
    BadArgumentsError,
    "options.maxRestarts",
  );
  assertThrows(() => parseMessage(coordinatorRequestSchema, encode({ op: "reboot" }), "request"), BadArgumentsError);
});
