import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import { Cluster } from "../../actors/core/cluster.ts";
import { Counter } from "../../actors/demo_actors.ts";
import { encode } from "../../shared/codec.ts";
import { DecodeError, MessageTooLargeError } from "../../shared/errors.ts";
import { connectNats } from "../../shared/nats_transport.ts";
import { encodeCall, readReply } from "../../shared/protocol.ts";
import { tensor } from "../../shared/tensor.ts";
import type { Transport } from "../../shared/transport.ts";
import { Rng } from "../../shared/mod.ts";
import { hashBytes, Tensors } from "./fixtures/test_actors.ts";
import { CLUSTER_TEST, eventually, startTestCluster } from "./cluster_fixture.ts";

function mutate(frame: Uint8Array, random: () => number): Uint8Array {
  const out = frame.slice();
  switch (Math.floor(random() * 4)) {
    case 0: // flip a few bytes
      for (let i = 0; i < 1 + random() * 4; i++) out[Math.floor(random() * out.length)] = Math.floor(random() * 256);
      return out;
    case 1: // truncate
      return out.subarray(0, Math.floor(random() * out.length));
    case 2: // append junk
      return Uint8Array.from([...out, ...Array.from({ length: 1 + random() * 16 }, () => random() * 256)]);
    default: // fully random bytes
      return Uint8Array.from({ length: Math.floor(random() * 64) }, () => random() * 256);
  }
}

/** Sends every frame as a request; every reply must decode as a reply frame (value or typed error). */
async function fuzz(transport: Transport, subject: string, frames: Uint8Array[]): Promise<number> {
  let errors = 0;
  const inFlight = new Set<Promise<void>>();
  for (const frame of frames) {
    const p = transport.request(subject, frame, { timeoutMs: 10_000 }).then((reply) => {
      try {
        readReply(reply, "fuzz");
      } catch (error) {
        if (error instanceof DecodeError && error.message.includes("reply")) throw error;
        errors++;
      }
    });
    inFlight.add(p);
    p.finally(() => inFlight.delete(p));
    if (inFlight.size >= 32) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return errors;
}

Deno.test({
  name: "bad input - malformed frames, bad tensors, oversized messages, fuzzing; 256 MiB tensor with 1 MiB max_payload",
  ...CLUSTER_TEST,
  async fn(t) {
    const local = await startTestCluster({ agents: [{ nodeId: "n1", cpus: 4 }], maxPayload: 1024 * 1024 });
    const cluster = local.client;
    const transport = cluster.transport;
    try {
      const counter = await cluster.spawn(Counter, { name: "target" }, 0);
      const record = (await cluster.actors()).find((a) => a.name === "target")!;
      const callSubject = cluster.subjects.call(record.id, record.incarnation);

      await t.step("a malformed frame gets a DecodeError and a log line; the actor keeps running", async () => {
        const reply = await transport.request(callSubject, Uint8Array.from([0x92, 0xa4, 0x69]), { timeoutMs: 5000 });
        assertThrows(() => readReply(reply, "bad frame"), DecodeError);
        const notArray = await transport.request(callSubject, encode({ m: "incr" }), { timeoutMs: 5000 });
        assertThrows(() => readReply(notArray, "bad frame"), DecodeError, "expected [method, args]");
        assertEquals(await counter.incr(1), 1);
        await eventually("the rejection log line", async () => {
          const logs = await cluster.logs(record.id);
          return logs.some((l) => l.line.includes("Rejected a call") && l.line.includes("DecodeError"))
            ? true
            : undefined;
        });
      });

      await t.step("a tensor whose byte length does not match its shape is rejected with DecodeError", async () => {
        const frame = encodeCall("fingerprint", [tensor("float32", [4], [1, 2, 3, 4])]);
        // Find the tensor header (dtype float32=1, ndim 1, then dims) and claim 5 elements instead of 4.
        let patched = false;
        for (let i = 0; i + 8 <= frame.length; i++) {
          if (frame[i] === 1 && frame[i + 1] === 1 && frame[i + 4] === 4 && frame[i + 5] === 0 && frame[i + 6] === 0) {
            frame[i + 4] = 5;
            patched = true;
            break;
          }
        }
        assert(patched, "found the tensor header to corrupt");
        const tensors = await cluster.spawn(Tensors, { resources: { cpu: 0.5 } });
        const rec = (await cluster.actors()).find((a) => a.id === tensors.actorId)!;
        const reply = await transport.request(cluster.subjects.call(rec.id, rec.incarnation), frame, {
          timeoutMs: 5000,
        });
        assertThrows(() => readReply(reply, "bad tensor"), DecodeError);
        assertEquals(await tensors.isTensor(tensor("uint8", [2], [1, 2])), true);
      });

      await t.step("an oversized message raises MessageTooLargeError on the caller", async () => {
        const small = await connectNats({ servers: local.natsUrl, maxMessageBytes: 2 * 1024 * 1024 });
        const limited = new Cluster(small, { ownsTransport: true });
        try {
          const handle = await limited.getActor<Tensors>(
            (await cluster.actors()).find((a) => a.className === "Tensors")!.id,
          );
          await assertRejects(() => handle.fingerprint(tensor("uint8", [4 * 1024 * 1024])), MessageTooLargeError);
          assertEquals((await handle.fingerprint(tensor("uint8", [1024]))).bytes, 1024);
        } finally {
          await limited.close();
        }
      });

      await t.step(
        "fuzz: thousands of random and mutated frames to actor, coordinator, agent and heartbeat",
        async () => {
          const rng = new Rng(42);
          const random = () => rng.next();
          const seeds = [
            encodeCall("incr", [3]),
            encodeCall("get", []),
            encodeCall("incr", [tensor("float32", [2, 3])]),
            encodeCall("where", [{ a: [1, 2, { b: "c" }] }]),
          ];
          const frames = Array.from(
            { length: 2000 },
            () => mutate(seeds[Math.floor(random() * seeds.length)]!, random),
          );
          const actorErrors = await fuzz(transport, callSubject, frames);
          assert(actorErrors > 1000, `most fuzzed calls were rejected (${actorErrors})`);

          const control = [
            encode({ op: "nodes" }),
            encode({ op: "getActor", nameOrId: "target" }),
            encode({ op: "actors" }),
          ];
          const controlFrames = Array.from({ length: 1000 }, () => mutate(control[Math.floor(random() * 3)]!, random));
          await fuzz(transport, cluster.subjects.coordinator, controlFrames);
          const agentFrames = Array.from(
            { length: 500 },
            () => mutate(encode({ op: "stop", actor: "nobody", incarnation: 0, graceful: true }), random),
          );
          await fuzz(transport, cluster.subjects.agent("n1"), agentFrames);
          const beats = Array.from({ length: 300 }, () => mutate(encode({ nodeId: "n1", actors: [] }), random));
          await fuzz(transport, cluster.subjects.heartbeat("n1"), beats);

          // Everyone is still up and consistent.
          assertEquals(typeof await counter.get(), "number");
          assertEquals((await cluster.nodes()).find((n) => n.id === "n1")?.state, "alive");
          const again = await cluster.spawn(Counter, {}, 5);
          assertEquals(await again.incr(1), 6);
        },
      );

      await t.step(
        "a 256 MiB tensor through an actor call arrives intact (chunked over 1 MiB max_payload)",
        async () => {
          const tensors = await cluster.getActor<Tensors>(
            (await cluster.actors()).find((a) => a.className === "Tensors")!.id,
          );
          const big = tensor("float32", [64, 1024, 1024]);
          const words = new Uint32Array(big.data.buffer);
          for (let i = 0; i < words.length; i++) words[i] = Math.imul(i, 2654435761);
          const print = await tensors.fingerprint(big);
          assertEquals(print.shape, [64, 1024, 1024]);
          assertEquals(print.bytes, 256 * 1024 * 1024);
          assertEquals(print.hash, hashBytes(big.bytes()));
        },
      );
    } finally {
      await local.stop();
    }
  },
});
