import { ok, strictEqual } from "node:assert";
import { checkParity, formatParity, parityMain } from "../../engine/parity/mod.ts";
import { readDecoderConfig, readSafetensors, writeSafetensors } from "../../engine/io/mod.ts";
import { loadWeights, saveModel } from "../../engine/models/mod.ts";
import { Tensor } from "../../shared/tensor.ts";
import { fixtureDir } from "./parity_fixtures.ts";

for (const name of ["qwen2-tiny", "llama-tiny", "qwen2-rm-tiny"]) {
  Deno.test(`parity - ${name} matches transformers: outputs, loss, every gradient, greedy KV tokens`, async () => {
    const report = await checkParity(fixtureDir(name));
    const failed = report.rows.filter((row) => !row.ok);
    ok(report.ok, formatParity(report) + `\nfailed: ${failed.map((r) => r.name).join(", ")}`);
    const names = report.rows.map((row) => row.name);
    ok(names.includes("loss"));
    ok(names.some((n) => n.startsWith("grad model.layers.1.self_attn.q_proj.weight")));
    if (name === "qwen2-rm-tiny") ok(names.includes("scores"));
    else {ok(
        names.includes("logits") && names.includes("token_logprobs") && names.includes("greedy_new_tokens (KV cache)"),
      );}
  });
}

Deno.test("parity - a perturbed checkpoint fails and the CLI exits non-zero", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop_parity_" });
  try {
    const source = fixtureDir("qwen2-rm-tiny");
    for (const file of ["config.json", "inputs.json", "expected.safetensors", "grads.safetensors"]) {
      await Deno.copyFile(`${source}/${file}`, `${dir}/${file}`);
    }
    const weights = (await readSafetensors(`${source}/model.safetensors`)).tensors;
    const norm = weights.get("model.norm.weight")!;
    const scaled = Float32Array.from(norm.data as Float32Array, (x) => x * 1.01);
    weights.set("model.norm.weight", new Tensor("float32", norm.shape, scaled));
    await writeSafetensors(`${dir}/model.safetensors`, weights);
    const report = await checkParity(dir, { grads: false });
    strictEqual(report.ok, false);
    strictEqual(report.rows.find((row) => row.name === "scores")!.ok, false);
    strictEqual(await parityMain([dir, "--no-grads"]), 1);
    strictEqual(await parityMain([`${dir}/missing`]), 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parity - a checkpoint re-saved by Coop (transformers 4 config layout) still matches", async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop_parity_" });
  try {
    const source = fixtureDir("llama-tiny");
    const config = await readDecoderConfig(`${source}/config.json`);
    await saveModel(dir, config, await loadWeights(source, config));
    const written = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    strictEqual(written.rope_theta, 10000);
    strictEqual(written.rope_parameters, undefined);
    for (const file of ["inputs.json", "expected.safetensors", "grads.safetensors"]) {
      await Deno.copyFile(`${source}/${file}`, `${dir}/${file}`);
    }
    const report = await checkParity(dir, { grads: false });
    ok(report.ok, formatParity(report));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
