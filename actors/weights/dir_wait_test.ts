import { ok } from "node:assert/strict";
import { join } from "node:path";
import { DirWaiter } from "./dir_wait.ts";

Deno.test("dir_wait - a completed file wakes the waiter at once; writes into a part file and silence do not", async () => {
  const dir = Deno.makeTempDirSync();
  const waiter = new DirWaiter(dir);
  try {
    if (!waiter.watching) {
      console.log("skipping: no directory watch here (the waiter polls)");
      return;
    }
    const part = join(dir, "x@m@float32@1.st.part");
    Deno.writeFileSync(part, new Uint8Array(16));
    await new Promise((resolve) => setTimeout(resolve, 50)); // let the create event pass
    await waiter.wait(10);
    // Writes into the part file alone leave the waiter to its timer.
    let t0 = performance.now();
    const writing = setInterval(() => Deno.writeFileSync(part, new Uint8Array(16), { append: true }), 10);
    await waiter.wait(300);
    clearInterval(writing);
    ok(performance.now() - t0 >= 280, `woke after ${performance.now() - t0} ms on part-file writes`);
    // A rename (how a sidecar appears) wakes it long before the timeout.
    t0 = performance.now();
    setTimeout(() => Deno.renameSync(part, join(dir, "x@m@float32@1.st")), 20);
    await waiter.wait(5_000);
    ok(performance.now() - t0 < 2_000, `woke after ${performance.now() - t0} ms on a rename`);
  } finally {
    waiter.close();
    Deno.removeSync(dir, { recursive: true });
  }
});
