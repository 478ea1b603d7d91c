import { deepStrictEqual as assertEquals } from "node:assert";
import { splitTopLevel, wrapped } from "./split.ts";

Deno.test("splitTopLevel - separators inside any bracket pair are kept", () => {
  assertEquals(splitTopLevel("1,(2,3),[4,5),\\{6,7\\}", /,/g), ["1", "(2,3)", "[4,5)", "\\{6,7\\}"]);
  assertEquals(splitTopLevel("x\\le 3<y", /\\le|</g, true), ["x", "\\le", " 3", "<", "y"]);
});

Deno.test("wrapped - one bracketed group only", () => {
  assertEquals(wrapped("[0,1)"), { open: "[", close: ")", inner: "0,1" });
  assertEquals(wrapped("\\{1,2\\}"), { open: "\\{", close: "\\}", inner: "1,2" });
  assertEquals(wrapped("(1)(2)"), undefined);
  assertEquals(wrapped("\\{1,2)"), undefined);
  assertEquals(wrapped("x"), undefined);
});
