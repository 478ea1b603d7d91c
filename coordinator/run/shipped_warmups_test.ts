import { deepStrictEqual, match, notStrictEqual, ok } from "node:assert";
import { join } from "node:path";
import { parseJobConfig } from "../../rl/mod.ts";
import { demoConfigs } from "./demo.ts";
import { differingFiles, findShipped, installShipped, shippedDir, warmupFingerprint } from "./shipped_warmups.ts";

Deno.test("the shipped warm-ups of seeds 1-3 are what the demo's configs build, and intact", async () => {
  // Fails when sft.yaml / rm_pretrain.yaml change without `coop warmup --seed N --ship`: the demo would otherwise
  // silently rebuild them, and its README numbers would no longer start from the shipped checkpoints.
  for (const seed of [1, 2, 3]) {
    const configs = await demoConfigs(false, seed);
    const found = await findShipped(shippedDir({ seed, quick: false }), warmupFingerprint(configs));
    ok("record" in found, `seed ${seed}: ${"reason" in found ? found.reason : ""}`);
    deepStrictEqual(found.record.seed, seed);
    ok(found.record.result.rmPairAccuracy >= 0.9, `seed ${seed}: shipped RM below the issue's 90% pairwise`);
  }
});

Deno.test("a changed warm-up setting changes the fingerprint; the quick demo has no shipped warm-up", async () => {
  const configs = await demoConfigs(false, 1);
  const rm = parseJobConfig({ ...configs.rm, steps: 999 });
  notStrictEqual(warmupFingerprint({ ...configs, rm }), warmupFingerprint(configs));
  deepStrictEqual(warmupFingerprint(await demoConfigs(false, 1)), warmupFingerprint(configs));
  const quick = await demoConfigs(true, 1);
  const found = await findShipped(shippedDir({ seed: 1, quick: true }), warmupFingerprint(quick));
  ok("reason" in found);
  match(found.reason, /none shipped/);
});

Deno.test("a damaged shipped file is refused by name; an intact one installs where the RL configs read it", async () => {
  const configs = await demoConfigs(false, 1);
  const fingerprint = warmupFingerprint(configs);
  const root = await Deno.makeTempDir();
  try {
    const copy = shippedDir({ seed: 1, quick: false, root });
    await copyTree(shippedDir({ seed: 1, quick: false }), copy);
    const target = join(root, "runs/demo/seed-1");
    const good = await findShipped(copy, fingerprint);
    ok("record" in good);
    await installShipped(good.dir, good.record, target);
    for (const file of Object.keys(good.record.files)) {
      deepStrictEqual(await Deno.readFile(join(target, file)), await Deno.readFile(join(copy, file)), file);
    }
    // Installed model dirs are sealed like saved models (a manifest), so later damage is caught there too.
    await Deno.stat(join(target, "rm/reward_model/manifest.json"));

    const weights = join(copy, "rm/reward_model/model.safetensors");
    const bytes = await Deno.readFile(weights);
    bytes[bytes.length - 1]! ^= 1;
    await Deno.writeFile(weights, bytes);
    const bad = await findShipped(copy, fingerprint);
    ok("reason" in bad);
    match(bad.reason, /rm\/reward_model\/model\.safetensors does not match its digest/);

    const other = await findShipped(copy, "0".repeat(64));
    ok("reason" in other);
    match(other.reason, /other warm-up configs/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("differingFiles names files whose bytes differ or that exist on one side only", () => {
  const entry = (sha256: string, bytes = 1) => ({ bytes, sha256 });
  deepStrictEqual(
    differingFiles({ a: entry("1"), b: entry("2"), c: entry("3") }, { a: entry("1"), b: entry("x"), d: entry("4") }),
    ["b", "c", "d"],
  );
  deepStrictEqual(differingFiles({ a: entry("1") }, { a: entry("1") }), []);
});

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(join(from, entry.name), join(to, entry.name));
    else await Deno.copyFile(join(from, entry.name), join(to, entry.name));
  }
}
