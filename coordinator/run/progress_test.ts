import assert from "node:assert/strict";
import { ConfigError } from "../../shared/errors.ts";
import { createProgress, formatDuration, formatValue } from "./progress.ts";

function capture() {
  const decoder = new TextDecoder();
  let text = "";
  return {
    stream: {
      writeSync(data: Uint8Array) {
        text += decoder.decode(data);
        return data.length;
      },
    },
    get text() {
      return text;
    },
  };
}

Deno.test("progress - plain mode prints one line per interval and a final line", () => {
  const out = capture();
  let clock = 0;
  const p = createProgress({
    total: 10,
    label: "train",
    stream: out.stream,
    tty: false,
    intervalMs: 1000,
    unit: "steps",
    now: () => clock,
  });
  for (let i = 0; i < 10; i++) {
    clock += 400;
    p.tick(1, { metrics: { loss: 1 / (i + 1) } });
  }
  p.done();
  const lines = out.text.trimEnd().split("\n");
  // Ticks at 400 (first), 1600, 2800, 4000 clear the 1000 ms interval; then the final line.
  assert.equal(lines.length, 5);
  assert.equal(lines[0], "train 1/10 10% 2.5 steps/s ETA 0:04 loss=1");
  assert.equal(lines[4], "train 10/10 100% 2.5 steps/s in 0:04 loss=0.1");
  assert.ok(!out.text.includes("\r"), "no carriage returns in logs");
  assert.equal(p.current, 10);
});

Deno.test("progress - terminal mode redraws one line with a bar", () => {
  const out = capture();
  let clock = 0;
  const p = createProgress({ total: 4, label: "bench", stream: out.stream, tty: true, now: () => clock });
  clock = 1000;
  p.tick(2);
  clock = 1050;
  p.tick(1); // within the redraw throttle: not drawn
  clock = 2000;
  p.done({ metrics: { acc: 0.75 } });
  const frames = out.text.split("\r\x1b[2K").filter((f) => f !== "");
  assert.equal(frames.length, 2);
  assert.equal(frames[0], "bench [############------------] 2/4 50% 2 it/s ETA 0:01");
  assert.equal(frames[1], "bench [##################------] 3/4 75% 1.5 it/s in 0:02 acc=0.75\n");
});

Deno.test("progress - unknown total shows count and rate only; done is idempotent", () => {
  const out = capture();
  let clock = 0;
  const p = createProgress({ total: 0, label: "gen", stream: out.stream, tty: false, now: () => clock });
  clock = 500;
  p.tick(5);
  p.done();
  p.done();
  p.tick(1);
  assert.deepEqual(out.text.trimEnd().split("\n"), ["gen 5 10 it/s", "gen 5 10 it/s in 0:01"]);
});

Deno.test("progress - bad totals and ticks are ConfigErrors naming the label", () => {
  const out = capture();
  assert.throws(() => createProgress({ total: -1, label: "x", stream: out.stream }), ConfigError);
  assert.throws(() => createProgress({ total: NaN, label: "x", stream: out.stream }), /progress total for "x"/);
  const p = createProgress({ total: 1, label: "y", stream: out.stream, tty: false });
  assert.throws(() => p.tick(-2), /progress tick for "y"/);
});

Deno.test("formatValue and formatDuration - compact output", () => {
  assert.equal(formatValue(0.123456), "0.1235");
  assert.equal(formatValue(12345.678), "12350");
  assert.equal(formatValue(0.0000123), "1.23e-5");
  assert.equal(formatValue(3), "3");
  assert.equal(formatValue("ok"), "ok");
  assert.equal(formatDuration(59.6), "1:00");
  assert.equal(formatDuration(3725), "1:02:05");
  assert.equal(formatDuration(Infinity), "?");
});
