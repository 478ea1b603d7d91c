import { assertEquals, assertRejects } from "../../tests/runtime/assert.ts";
import type { ActorHandle } from "./handle.ts";
import { ActorPool } from "./pool.ts";

type Fake = { id: number };
const handles = [0, 1, 2].map((id) => ({ id, actorId: `a${id}` })) as unknown as ActorHandle<Fake>[];
const idOf = (h: ActorHandle<Fake>) => (h as unknown as Fake).id;
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("pool - map yields in input order even when later tasks finish first", async () => {
  const pool = new ActorPool(handles, () => 0);
  const out: number[] = [];
  for await (const v of pool.map(async (_, v: number) => (await delay(10 - v), v), [1, 2, 3, 4, 5, 6, 7, 8, 9])) {
    out.push(v);
  }
  assertEquals(out, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("pool - mapUnordered yields every result once", async () => {
  const pool = new ActorPool(handles, () => 0, { perActor: 2 });
  const out: number[] = [];
  for await (const v of pool.mapUnordered(async (_, v: number) => (await delay(v % 3), v), [5, 4, 3, 2, 1])) {
    out.push(v);
  }
  assertEquals(out.sort(), [1, 2, 3, 4, 5]);
});

Deno.test("pool - submit goes to the least loaded actor", async () => {
  const load = new Map([[0, 5], [1, 0], [2, 3]]);
  const pool = new ActorPool(handles, (h) => load.get(idOf(h))!);
  assertEquals(await pool.submit((h) => Promise.resolve(idOf(h))), 1);
  // While one task holds actor 1, the next goes to the next least loaded.
  let release = () => {};
  const held = pool.submit((h) => new Promise<number>((resolve) => release = () => resolve(idOf(h))));
  load.set(2, 0);
  assertEquals(await pool.submit((h) => Promise.resolve(idOf(h))), 2);
  release();
  assertEquals(await held, 1);
});

Deno.test("pool - a failing task rejects map", async () => {
  const pool = new ActorPool(handles, () => 0);
  await assertRejects(
    async () => {
      for await (
        const _ of pool.map((_, v: number) => v === 2 ? Promise.reject(new RangeError("bad")) : Promise.resolve(v), [
          1,
          2,
          3,
        ])
      ) {
        // consume
      }
    },
    RangeError,
    "bad",
  );
});
