import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { AsyncQueue } from "./async_queue.ts";

Deno.test("async queue - delivers pushed items in order to a waiting or late consumer, then ends on close", async () => {
  const queue = new AsyncQueue<number>();
  const waiting = queue.next();
  queue.push(1);
  deepStrictEqual(await waiting, { value: 1, done: false });
  for (let i = 2; i <= 3000; i++) queue.push(i);
  queue.close();
  queue.push(9999); // ignored after close
  const seen: number[] = [];
  for await (const item of queue) seen.push(item);
  strictEqual(seen.length, 2999);
  strictEqual(seen[0], 2);
  strictEqual(seen.at(-1), 3000);
});

Deno.test("async queue - breaking out of the loop runs onReturn", async () => {
  let returned = 0;
  const queue = new AsyncQueue<string>(() => returned++);
  queue.push("a");
  queue.push("b");
  for await (const _item of queue) break;
  strictEqual(returned, 1);
  deepStrictEqual(await queue.next(), { value: undefined, done: true });
});
