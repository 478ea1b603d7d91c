/**
 * TensorBoard event files: CRC-32C against its published check value, TFRecord framing and Event protobufs read
 * back field by field, and — the real check — the files as TensorBoard's own reader (`tensorboard` from pip,
 * EventAccumulator) sees them, through the {@link TrackingSink} a run uses. Skips the last part, saying why, when
 * the `tensorboard` package is not importable by `python3` (or by COOP_PYTHON).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import protobuf from "protobufjs";
import { parseJobConfig } from "../../rl/mod.ts";
import { emptyAccounting, type RunStatus } from "./job.ts";
import { TrackingSink } from "./tracking.ts";
import { crc32c, eventBytes, maskedCrc32c, TfEventWriter, tfRecord } from "./tfevents.ts";

const PYTHON = Deno.env.get("COOP_PYTHON") ?? "python3";
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("tfevents - CRC-32C check value and the TFRecord mask", () => {
  // The CRC-32C check value of "123456789" (RFC 3720, appendix B.4).
  strictEqual(crc32c(bytes("123456789")), 0xe3069283);
  strictEqual(crc32c(new Uint8Array(32)), 0x8a9136aa);
  const crc = crc32c(bytes("abc"));
  strictEqual(maskedCrc32c(bytes("abc")), ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0);
});

/** Splits a TFRecord file, checking both CRCs of every record. */
function records(file: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (let at = 0; at < file.length;) {
    const length = Number(view.getBigUint64(at, true));
    strictEqual(view.getUint32(at + 8, true), maskedCrc32c(file.subarray(at, at + 8)));
    const data = file.subarray(at + 12, at + 12 + length);
    strictEqual(view.getUint32(at + 12 + length, true), maskedCrc32c(data));
    out.push(data);
    at += 16 + length;
  }
  return out;
}

Deno.test("tfevents - records frame Event protobufs: the version header, then scalars by step", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-tfevents-" });
  try {
    const writer = new TfEventWriter(dir, 1_700_000_000_000);
    ok(writer.path.includes("/events.out.tfevents.1700000000."), writer.path);
    await writer.scalars(1, { reward: 0.5, kl: Number.NaN }, 10);
    await writer.scalars(2, { reward: 0.75 }, 11);
    await writer.close();
    const found = records(await Deno.readFile(writer.path));
    strictEqual(found.length, 3);
    // Decoded with a reader built from the schema text, not the writer's JSON descriptor.
    const root = protobuf.parse(
      `syntax = "proto3"; package tensorflow;
      message Summary { message Value { string tag = 1; float simple_value = 2; } repeated Value value = 1; }
      message Event { double wall_time = 1; int64 step = 2; oneof what { string file_version = 3; Summary summary = 5; } }`,
      {
        keepCase: true,
      },
    )
      .root;
    const Event = root.lookupType("tensorflow.Event");
    const decoded = found.map((r) => Event.toObject(Event.decode(r), { longs: Number, defaults: false }));
    strictEqual(decoded[0]!.file_version, "brain.Event:2");
    deepStrictEqual(decoded.slice(1), [
      { wall_time: 10, step: 1, summary: { value: [{ tag: "reward", simple_value: 0.5 }] } },
      { wall_time: 11, step: 2, summary: { value: [{ tag: "reward", simple_value: 0.75 }] } },
    ]);
    deepStrictEqual(tfRecord(eventBytes({ wallTime: 1 })).length, 16 + eventBytes({ wallTime: 1 }).length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function tensorboardMissing(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(PYTHON, { args: ["-c", "import tensorboard"], stdout: "null", stderr: "null" })
      .output();
    return out.success ? undefined : `the tensorboard package is not importable by ${PYTHON} (pip install tensorboard)`;
  } catch {
    return `${PYTHON} is not installed`;
  }
}

const missing = await tensorboardMissing();
if (missing !== undefined) console.log(`tfevents TensorBoard read-back skipped: ${missing}`);

const READER = `
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
print(json.dumps({tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}))
`;

Deno.test({
  name: "tfevents - a run's JSON lines and event files, read back by TensorBoard's EventAccumulator",
  ignore: missing !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "coop-tracking-" });
    try {
      const config = parseJobConfig({ name: "t", logging: { jsonl: { dir }, tensorboard: { dir } } });
      const status = {
        id: "t-1",
        startedAt: new Date(1_700_000_000_000).toISOString(),
        accounting: emptyAccounting(),
      } as RunStatus;
      const sink = new TrackingSink();
      const points = [1, 2, 3].map((step) => ({
        step,
        time: step,
        reward_mean: step / 4,
        kl: step === 2 ? NaN : 0.01,
      }));
      await Promise.all(points.map((p) => sink.point(status, config, p)));
      await sink.end(status);
      const lines = (await Deno.readTextFile(`${dir}/t-1/metrics.jsonl`)).trim().split("\n").map((l) => JSON.parse(l));
      deepStrictEqual(lines.map((l) => [l.step, l.reward_mean, l.kl]), [[1, 0.25, 0.01], [2, 0.5, null], [
        3,
        0.75,
        0.01,
      ]]);
      const out = await new Deno.Command(PYTHON, {
        args: ["-c", READER, `${dir}/t-1`],
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
      const scalars = JSON.parse(new TextDecoder().decode(out.stdout));
      deepStrictEqual(scalars.reward_mean, [[1, 0.25], [2, 0.5], [3, 0.75]]);
      // NaN is left out; float32 rounding of 0.01 is TensorBoard's own.
      deepStrictEqual(scalars.kl.map(([s, v]: number[]) => [s, Number(v!.toFixed(6))]), [[1, 0.01], [3, 0.01]]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
