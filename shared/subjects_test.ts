import { assertEquals, assertThrows } from "../tests/runtime/assert.ts";
import { ConfigError } from "./errors.ts";
import { subjects, subjectToken } from "./subjects.ts";

Deno.test("subjects - every subject and bucket is namespaced by cluster", () => {
  const a = subjects("alpha");
  const b = subjects("beta");
  assertEquals(a.call("a-1", 2), "coop.alpha.actor.a-1.2");
  assertEquals(a.coordinator, "coop.alpha.coord");
  assertEquals(a.stateBucket, "coop_alpha_state");
  assertEquals(a.heartbeat("n-1"), "coop.alpha.hb.n-1");
  assertEquals(a.report("a-1", "n-1"), "coop.alpha.life.a-1.n-1");
  assertEquals(subjectToken(a.report("a-1", "n-1"), -2), "a-1");
  for (
    const key of [
      "coordinator",
      "heartbeatAll",
      "nodeAll",
      "lifecycleAll",
      "reportAll",
      "logsAll",
      "stateBucket",
      "blobBucket",
    ] as const
  ) {
    assertEquals(a[key] === b[key], false);
  }
});

Deno.test("subjects - cluster names that would break subjects or bucket names are refused", () => {
  for (const bad of ["", "a.b", "a*", "a>", "a b", "x".repeat(65)]) {
    assertThrows(() => subjects(bad), ConfigError, "cluster name");
  }
});
