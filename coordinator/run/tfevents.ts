/**
 * TensorBoard event files written directly: a TFRecord stream (per record: u64 length, masked CRC32C of the
 * length, the bytes, masked CRC32C of the bytes; little-endian) of `tensorflow.Event` protobufs — first a
 * `file_version: "brain.Event:2"` event, then one `Summary` of scalar `simple_value`s per step. This is the format
 * `tensorboard --logdir` and `wandb sync --sync-tensorboard` read; no TensorFlow needed. The messages are encoded
 * with protobufjs from the few fields of tensorflow/core/util/event.proto and framework/summary.proto used here.
 */
import protobuf from "protobufjs";

const root = protobuf.Root.fromJSON({
  nested: {
    tensorflow: {
      nested: {
        Event: {
          fields: {
            wall_time: { type: "double", id: 1 },
            step: { type: "int64", id: 2 },
            file_version: { type: "string", id: 3 },
            summary: { type: "Summary", id: 5 },
          },
        },
        Summary: {
          fields: { value: { rule: "repeated", type: "Value", id: 1 } },
          nested: {
            Value: {
              fields: {
                tag: { type: "string", id: 1 },
                simple_value: { type: "float", id: 2 },
              },
            },
          },
        },
      },
    },
  },
});
const EventType = root.lookupType("tensorflow.Event");

const CRC32C_TABLE = (() => {
  // Castagnoli polynomial, reflected.
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli) of `data`. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant, so CRCs of CRCs do not degenerate. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data);
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, masked CRC of the length, data, masked CRC of the data. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** An encoded `Event`: the file-version header, or one step's scalars. */
export function eventBytes(
  event: { wallTime: number; step?: number; fileVersion?: string; scalars?: Record<string, number> },
): Uint8Array {
  const message: Record<string, unknown> = { wall_time: event.wallTime };
  if (event.step !== undefined) message.step = event.step;
  if (event.fileVersion !== undefined) message.file_version = event.fileVersion;
  if (event.scalars !== undefined) {
    message.summary = { value: Object.entries(event.scalars).map(([tag, value]) => ({ tag, simple_value: value })) };
  }
  return EventType.encode(EventType.fromObject(message)).finish();
}

/** Appends events to one `events.out.tfevents.<seconds>.<host>` file in `dir`. */
export class TfEventWriter {
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(dir: string, now = Date.now()) {
    this.path = `${dir}/events.out.tfevents.${Math.floor(now / 1000)}.${Deno.hostname()}.coop`;
  }

  /** Writes one step's scalars (non-finite values are skipped: TensorBoard would plot NaN as a gap anyway). */
  scalars(step: number, values: Record<string, number>, wallTime = Date.now() / 1000): Promise<void> {
    const finite = Object.fromEntries(Object.entries(values).filter(([, v]) => Number.isFinite(v)));
    return this.#append(eventBytes({ wallTime, step, scalars: finite }));
  }

  #append(event: Uint8Array): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      if (this.#file === undefined) {
        await Deno.mkdir(this.path.slice(0, this.path.lastIndexOf("/")), { recursive: true });
        this.#file = await Deno.open(this.path, { create: true, append: true });
        await this.#write(tfRecord(eventBytes({ wallTime: Date.now() / 1000, fileVersion: "brain.Event:2" })));
      }
      await this.#write(tfRecord(event));
    });
    return this.#writing;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    for (let written = 0; written < bytes.length;) written += await this.#file!.write(bytes.subarray(written));
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    await this.#writing.catch(() => {});
    this.#file?.close();
    this.#file = undefined;
  }
}
