import assert from "node:assert/strict";
import { formatTable } from "./text_table.ts";

Deno.test("formatTable - columns line up and the last column is not padded", () => {
  const text = formatTable(["name", "n", "note"], [["a", "1", "short"], ["longer", "100", ""]], {
    align: ["left", "right", "left"],
  });
  const lines = text.split("\n");
  assert.deepEqual(lines, [
    "name      n  note",
    "------  ---  -----",
    "a         1  short",
    "longer  100",
  ]);
});

Deno.test("formatTable - multi-byte characters count as one column", () => {
  const lines = formatTable(["µs", "x"], [["ab", "1"]]).split("\n");
  assert.equal(lines[0]!.indexOf("x"), lines[2]!.indexOf("1"));
});
