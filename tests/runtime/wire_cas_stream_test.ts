/**
 * The transport's compare-and-swap KV writes and message streams against a real nats-server: create-if-absent
 * and update-at-revision refuse stale writers with KvConflictError; a stream keeps per-subject order, reads from
 * a sequence, honours its per-subject limit and purges one subject only.
 */
import { assert, assertEquals } from "./assert.ts";
import { connectNats } from "../../shared/nats_transport.ts";
import { KvConflictError } from "../../shared/transport.ts";
import { startNats } from "../harness.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("transport - KV compare-and-swap and message streams", async (t) => {
  const server = await startNats();
  const transport = await connectNats({ servers: server.url });
  try {
    await t.step("create and update refuse stale writers", async () => {
      const kv = await transport.kv("coop_cas_test");
      const first = await kv.create("k", bytes("a"));
      let conflict: unknown;
      await kv.create("k", bytes("b")).catch((e) => conflict = e);
      assert(conflict instanceof KvConflictError, String(conflict));
      assert((conflict as Error).message.includes('"k"'), (conflict as Error).message);
      const second = await kv.update("k", bytes("c"), first);
      assert(second > first);
      conflict = undefined;
      await kv.update("k", bytes("d"), first).catch((e) => conflict = e);
      assert(conflict instanceof KvConflictError, String(conflict));
      const entry = await kv.entry("k");
      assertEquals(entry && { value: text(entry.value), revision: entry.revision }, { value: "c", revision: second });
      await kv.delete("k");
      assertEquals(await kv.entry("k"), null);
      // A deleted key can be created again.
      assert(await kv.create("k", bytes("e")) > second);
    });

    await t.step("streams append, read per subject from a sequence, cap per subject and purge", async () => {
      const stream = await transport.stream({ name: "CAS_TEST", subjects: ["cas.test.*"], maxMsgsPerSubject: 3 });
      const seqs: number[] = [];
      for (let i = 0; i < 5; i++) seqs.push(await stream.append("cas.test.a", bytes(`a${i}`)));
      await stream.append("cas.test.b", bytes("b0"));
      // Plain publishes on a captured subject are stored too (agents publish logs without JetStream).
      await transport.publish("cas.test.b", bytes("b1"));
      await transport.flush();
      const read = async (subject: string, fromSeq?: number) => {
        const out: string[] = [];
        for await (const m of stream.read(subject, { fromSeq })) out.push(text(m.data));
        return out;
      };
      assertEquals(await read("cas.test.a"), ["a2", "a3", "a4"]);
      assertEquals(await read("cas.test.a", seqs[4]), ["a4"]);
      assertEquals(await read("cas.test.b"), ["b0", "b1"]);
      await stream.purge("cas.test.a");
      assertEquals(await read("cas.test.a"), []);
      assertEquals(await read("cas.test.b"), ["b0", "b1"]);
      assertEquals(await read("cas.test.none"), []);
      // More than one read batch (1000) comes back whole and in order.
      const many = await transport.stream({ name: "CAS_MANY", subjects: ["cas.many.*"] });
      await Promise.all(Array.from({ length: 2500 }, (_, i) => many.append("cas.many.x", bytes(String(i)))));
      await many.append("cas.many.y", bytes("other"));
      const seen: number[] = [];
      let last = 0;
      for await (const m of many.read("cas.many.x")) {
        assert(m.seq > last, "ascending sequence numbers");
        last = m.seq;
        seen.push(Number(text(m.data)));
      }
      assertEquals(seen.sort((a, b) => a - b), Array.from({ length: 2500 }, (_, i) => i));
      // Reopening updates retention and keeps the data.
      const again = await transport.stream({ name: "CAS_TEST", subjects: ["cas.test.*"], maxMsgsPerSubject: 10 });
      assertEquals(again.name, "CAS_TEST");
      assertEquals(await read("cas.test.b"), ["b0", "b1"]);
    });
  } finally {
    await transport.close();
    await server.stop();
  }
});
