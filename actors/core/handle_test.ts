import { ok, throws } from "node:assert/strict";
import { ConfigError } from "../../shared/errors.ts";
import { type HandleHost, makeHandle } from "./handle.ts";

// .options() validates before anything reaches the cluster, so a host that is never called is enough here.
const unused = new Proxy({}, {
  get(_, key) {
    throw new Error(`the handle used its host (${String(key)}) while only validating options`);
  },
}) as HandleHost;

Deno.test("handle options - bad timeouts and retry counts are named; good ones give a new handle", () => {
  const handle = makeHandle<{ ping(): number }>(unused, "a-1");
  throws(() => handle.options({ timeoutMs: 0 }), (e) => e instanceof ConfigError && /timeoutMs 0/.test(e.message));
  throws(() => handle.options({ timeoutMs: Number.NaN }), ConfigError);
  throws(
    () => handle.options({ maxTaskRetries: -2 }),
    (e) => e instanceof ConfigError && /maxTaskRetries -2/.test(e.message),
  );
  throws(() => handle.options({ maxTaskRetries: 1.5 }), ConfigError);
  const other = handle.options({ timeoutMs: 10, maxTaskRetries: -1 });
  ok(other !== handle);
  ok(other.actorId === "a-1");
});
