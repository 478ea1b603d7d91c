import { deepStrictEqual, strictEqual } from "node:assert";
import type { RunConfig } from "../../rl/mod.ts";
import { RewardModelSide, type RmHost } from "./rm_side.ts";

/** A driver stand-in: the RM trains one version per step; roll-backs and publishes are recorded. */
function fakeHost(response: RunConfig["monitor"]["response"]) {
  const rolledBackTo: number[] = [];
  let published = 0;
  const host = {
    ctx: { status: {} },
    config: {
      mode: "cooper",
      seed: 0,
      monitor: { window: 4, threshold: 0.05, agreement: 0.8, test: "trend", response },
    },
    roles: {
      rewardLearner: {
        rollback: (version: number) => Promise.resolve(rolledBackTo.push(version) > 0),
        snapshot: () => Promise.resolve(),
      },
    },
    skips: {},
    rmVersion: 0,
    window: 1,
    publishRm: () => Promise.resolve(void published++),
  };
  return { host, rolledBackTo, published: () => published };
}

// [σ(RM), verifier accuracy, agreement] per step: two alarm episodes (steps 4-5 and 9-10, by the trend test over a
// 4-step window) with a cleared alarm between them; versions 0 and 1 agree with the verifier, later ones do not.
const ROWS: [number, number, number][] = [
  [0.6, 0.6, 0.9],
  [0.65, 0.5, 0.8],
  [0.7, 0.4, 0.6],
  [0.75, 0.3, 0.5],
  [0.8, 0.2, 0.4],
  [0.3, 0.8, 0.5],
  [0.3, 0.8, 0.5],
  [0.5, 0.6, 0.5],
  [0.7, 0.4, 0.5],
  [0.9, 0.2, 0.5],
];

/** Runs the steps of `ROWS`; the alarm of each step and the RM version each step was scored by. */
async function drive(side: RewardModelSide, host: { rmVersion: number }) {
  const alarms: number[] = [];
  for (const [i, [rmReward, trainAccuracy, accuracy]] of ROWS.entries()) {
    const seen = { rmReward, trainAccuracy, agreement: { accuracy } } as Parameters<RewardModelSide["watch"]>[2];
    const reading = await side.watch(i, host.rmVersion, seen);
    alarms.push(reading.hacking_alarm);
    host.rmVersion++; // this step's RM update
  }
  return alarms;
}

Deno.test("RewardModelSide - rollback-once restores at the onset of each alarm episode, then trains on", async () => {
  const { host, rolledBackTo, published } = fakeHost("rollback-once");
  const side = new RewardModelSide(host as unknown as RmHost);
  deepStrictEqual(await drive(side, host), [0, 0, 0, 1, 1, 0, 0, 0, 1, 1]);
  // Steps 4 and 9: once per episode, to version 1, the last that agreed.
  deepStrictEqual(rolledBackTo, [1, 1]);
  strictEqual(published(), 2);
  strictEqual(side.snapshotsKept, 5, "the monitor's window plus the versions in flight");
});

Deno.test("RewardModelSide - rollback restores on every alarmed step; freeze and none never do", async () => {
  const rollback = fakeHost("rollback");
  await drive(new RewardModelSide(rollback.host as unknown as RmHost), rollback.host);
  deepStrictEqual(rollback.rolledBackTo, [1, 1, 1, 1]);
  for (const response of ["freeze", "none"] as const) {
    const { host, rolledBackTo } = fakeHost(response);
    const side = new RewardModelSide(host as unknown as RmHost);
    deepStrictEqual(await drive(side, host), [0, 0, 0, 1, 1, 0, 0, 0, 1, 1]);
    deepStrictEqual(rolledBackTo, []);
    strictEqual(side.snapshotsKept, 0, "no snapshots without a roll-back response");
  }
});
