import { assertEquals, assertThrows } from "../tests/runtime/assert.ts";
import { ConfigError } from "./errors.ts";
import { subjects } from "./subjects.ts";

Deno.test("subjects - every subject and bucket is namespaced by cluster", () => {
  const a = subjects("alpha");
  const b = subjects("beta");
  assertEquals(a.call("a-1", 2), "coop.alpha.actor.a-1.2");
  assertEquals(a.coordinator, "coop.alpha.coord");
  assertEquals(a.stateBucket, "coop_alpha_state");
  for (const key of ["coordinator", "heartbeat", "lifecycleAll", "logsAll", "stateBucket", "blobBucket"] as const) {
    assertEquals(a[key] === b[key], false);
  }
});

Deno.test("subjects - cluster names that would break subjects or bucket names are refused", () => {
  for (const bad of ["", "a.b", "a*", "a>", "a b", "x".repeat(65)]) {
    assertThrows(() => subjects(bad), ConfigError, "cluster name");
  }
});
