import { deepStrictEqual, strictEqual } from "node:assert/strict";
import type { TransportMessage } from "../shared/mod.ts";
import { ReplyCache } from "./reply_cache.ts";

/** A received call that records what it was answered. */
function message(): TransportMessage & { answers: number[] } {
  const answers: number[] = [];
  return {
    subject: "call",
    data: new Uint8Array(),
    answers,
    respond(data: Uint8Array) {
      answers.push(data[0]!);
      return Promise.resolve();
    },
  };
}

Deno.test("reply cache - a resend joins the running call, then gets the cached reply; new ids run", () => {
  const cache = new ReplyCache();
  const first = message();
  strictEqual(cache.admit("c.1", first), true, "a new id runs");
  const whileRunning = message();
  strictEqual(cache.admit("c.1", whileRunning), false, "a resend does not run again");
  cache.settle("c.1", Uint8Array.of(9));
  deepStrictEqual(whileRunning.answers, [9], "the waiting resend gets the run's reply");
  const later = message();
  strictEqual(cache.admit("c.1", later), false);
  deepStrictEqual(later.answers, [9], "a later resend gets the cached reply");
  strictEqual(cache.admit("c.2", message()), true);
});

Deno.test("reply cache - bounded by entries, bytes and age", async () => {
  const byCount = new ReplyCache({ maxEntries: 2 });
  for (const id of ["a", "b", "c"]) {
    byCount.admit(id, message());
    byCount.settle(id, Uint8Array.of(1));
  }
  strictEqual(byCount.size, 2);
  strictEqual(byCount.admit("a", message()), true, "the oldest was evicted");

  const big = new ReplyCache({ maxBytes: 80 });
  big.admit("x", message());
  big.settle("x", new Uint8Array(11)); // over an eighth of the budget: not kept
  strictEqual(big.admit("x", message()), true);

  const aging = new ReplyCache({ ttlMs: 5 });
  aging.admit("old", message());
  aging.settle("old", Uint8Array.of(1));
  await new Promise((resolve) => setTimeout(resolve, 20));
  // The age sweep runs every 256 new calls.
  for (let i = 0; i < 256; i++) aging.admit(`new.${i}`, message());
  strictEqual(aging.size, 256, "the expired reply was dropped");
  strictEqual(aging.admit("old", message()), true);
});

Deno.test("reply cache - first in, first out across many wraps of its ring; a dropped entry's slot removes nothing", () => {
  const cache = new ReplyCache({ maxEntries: 8 });
  for (let i = 0; i < 1000; i++) {
    strictEqual(cache.admit(`c.${i}`, message()), true);
    cache.settle(`c.${i}`, Uint8Array.of(i % 256));
  }
  strictEqual(cache.size, 8);
  const recent = message();
  strictEqual(cache.admit("c.999", recent), false, "the newest is remembered");
  deepStrictEqual(recent.answers, [999 % 256]);
  strictEqual(cache.admit("c.991", message()), true, "the ninth newest was evicted");

  const big = new ReplyCache({ maxEntries: 2, maxBytes: 80 });
  big.admit("x", message());
  big.settle("x", new Uint8Array(11)); // not kept: its ring slot stays
  big.admit("x", message()); // runs again, a new entry under the same id
  big.settle("x", Uint8Array.of(5));
  big.admit("y", message()); // evicts the old slot of "x", which must not take the new "x" with it
  const resend = message();
  strictEqual(big.admit("x", resend), false);
  deepStrictEqual(resend.answers, [5]);
});
