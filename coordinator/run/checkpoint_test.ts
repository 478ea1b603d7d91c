import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { readSafetensors, writeSafetensors } from "../../engine/io/mod.ts";
import { tensor } from "../../shared/tensor.ts";
import { type DriverState, openCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { CheckpointIntegrityError, goodCheckpoint, MANIFEST, verifyCheckpoint } from "./checkpoint_files.ts";

/** Learners as the driver sees them: `save(dir)` writes weights and an optimizer file, like the real ones. */
function learners(seed: number) {
  const save = async (dir: string) => {
    await Deno.mkdir(dir, { recursive: true });
    await writeSafetensors(`${dir}/model.safetensors`, new Map([["w", tensor("float32", [4], [seed, 2, 3, 4])]]));
    await writeSafetensors(`${dir}/optimizer.safetensors`, new Map([["m.w", tensor("float32", [4])]]));
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ seed }));
  };
  return { policyLearner: { save }, rewardLearner: { save } } as unknown as Parameters<typeof saveCheckpoint>[1];
}

function state(nextStep: number): DriverState {
  return {
    runId: "r",
    nextStep,
    policyVersion: nextStep,
    rmVersion: 1,
    ledger: { samples: [] },
    pending: [],
    trainedSamples: 8 * nextStep,
    tokens: 100,
  };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "coop-ckpt-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("checkpoint - saved through a staging dir with a SHA-256 manifest of every file", () =>
  withDir(async (dir) => {
    await saveCheckpoint(`${dir}/step-2`, learners(2), state(2));
    const manifest = await verifyCheckpoint(`${dir}/step-2`);
    deepStrictEqual(Object.keys(manifest.files), [
      "driver.json",
      "policy/config.json",
      "policy/model.safetensors",
      "policy/optimizer.safetensors",
      "reward_model/config.json",
      "reward_model/model.safetensors",
      "reward_model/optimizer.safetensors",
    ]);
    ok(/^[0-9a-f]{64}$/.test(manifest.files["driver.json"]!.sha256));
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    deepStrictEqual(names, ["step-2"], "no staging dir or temp file left behind");
    // Saving the same step again replaces it whole.
    await saveCheckpoint(`${dir}/step-2`, learners(5), state(2));
    await verifyCheckpoint(`${dir}/step-2`);
    const w = (await readSafetensors(`${dir}/step-2/policy/model.safetensors`)).tensors.get("w")!;
    strictEqual(w.data[0], 5);
    strictEqual((await openCheckpoint(`${dir}/step-2`)).state.trainedSamples, 16);
  }));

Deno.test("checkpoint - a truncated driver.json or a flipped weight byte fails with a digest error", () =>
  withDir(async (dir) => {
    await saveCheckpoint(`${dir}/step-2`, learners(2), state(2));
    const driver = `${dir}/step-2/driver.json`;
    const text = await Deno.readTextFile(driver);
    await Deno.writeTextFile(driver, text.slice(0, text.length >> 1));
    await rejects(
      verifyCheckpoint(`${dir}/step-2`),
      (e: unknown) => e instanceof CheckpointIntegrityError && /driver.json does not match its digest/.test(e.message),
    );
    await rejects(openCheckpoint(`${dir}/step-2`), /Cannot resume from .*driver.json does not match its digest/);

    await saveCheckpoint(`${dir}/step-4`, learners(4), state(4));
    const weights = `${dir}/step-4/policy/model.safetensors`;
    const bytes = await Deno.readFile(weights);
    bytes[bytes.length - 3]! ^= 0x01;
    await Deno.writeFile(weights, bytes);
    await rejects(verifyCheckpoint(`${dir}/step-4`), /policy\/model.safetensors does not match its digest/);

    await saveCheckpoint(`${dir}/step-6`, learners(6), state(6));
    await Deno.remove(`${dir}/step-6/${MANIFEST}`);
    await rejects(verifyCheckpoint(`${dir}/step-6`), /is incomplete: no readable manifest.json/);
  }));

Deno.test("checkpoint - resume falls back to the newest earlier good checkpoint, and says why", () =>
  withDir(async (dir) => {
    for (const step of [2, 4, 6]) await saveCheckpoint(`${dir}/step-${step}`, learners(step), state(step));
    const flip = async (path: string) => {
      const bytes = await Deno.readFile(path);
      bytes[bytes.length - 3]! ^= 0x80;
      await Deno.writeFile(path, bytes);
    };
    await flip(`${dir}/step-6/reward_model/model.safetensors`);
    await Deno.writeTextFile(`${dir}/step-4/driver.json`, "{");
    const opened = await openCheckpoint(`${dir}/step-6`);
    strictEqual(opened.dir, `${dir}/step-2`);
    strictEqual(opened.state.nextStep, 2);
    strictEqual(opened.skipped.length, 2);
    ok(opened.skipped[0]!.includes("reward_model/model.safetensors does not match"), opened.skipped[0]);
    ok(opened.skipped[1]!.includes("step-4") && opened.skipped[1]!.includes("driver.json"), opened.skipped[1]);
    // A staging dir a crash left behind (no manifest) is never mistaken for a checkpoint.
    await Deno.mkdir(`${dir}/.step-8.staging-dead/policy`, { recursive: true });
    await flip(`${dir}/step-2/policy/optimizer.safetensors`);
    await rejects(goodCheckpoint(`${dir}/step-6`), CheckpointIntegrityError);
  }));
