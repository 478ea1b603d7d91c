import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert";
import { parseJobConfig, type RmPretrainConfig } from "../../rl/mod.ts";
import { ConfigError } from "../../shared/mod.ts";
import { readHeldoutAnswers, writeHeldoutAnswers } from "./heldout_answers.ts";
import { lrAt, plannedRmSteps } from "./rm_pretrain.ts";

function rmConfig(extra: Record<string, unknown>): RmPretrainConfig {
  const config = parseJobConfig({ kind: "rm-pretrain", steps: 1000, lr: 1e-3, ...extra });
  if (config.kind !== "rm-pretrain") throw new Error("expected an rm-pretrain config");
  return config;
}

Deno.test("RM pretraining - restarts add their steps only with a validation split", () => {
  assertEquals(plannedRmSteps(rmConfig({})), 1000);
  assertEquals(plannedRmSteps(rmConfig({ validation: { restarts: 3 } })), 1000); // no validation split: no restarts
  assertEquals(plannedRmSteps(rmConfig({ validation: { tasks: 96, restarts: 3, restartSteps: 300 } })), 1600);
  assertEquals(
    plannedRmSteps(rmConfig({ steps: 200, validation: { tasks: 96, restarts: 3, restartSteps: 300 } })),
    600,
  );
});

Deno.test("RM pretraining - the cosine schedule goes from lr to a tenth of it; constant stays", () => {
  const cosine = rmConfig({ lrSchedule: "cosine" });
  ok(Math.abs(lrAt(cosine, 0) - 1e-3) < 1e-12);
  ok(Math.abs(lrAt(cosine, 500) - 5.5e-4) < 1e-12);
  ok(Math.abs(lrAt(cosine, 1000) - 1e-4) < 1e-12);
  ok(lrAt(cosine, 300) > lrAt(cosine, 301));
  assertEquals(lrAt(rmConfig({}), 700), 1e-3);
});

Deno.test("held-out answers - round trip, and a clear error for a bad file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const held = [{ task: { id: "t0", question: "q?", answer: "7" }, samples: ["3+4=7. #### 7", "#### 8"] }];
    await writeHeldoutAnswers(`${dir}/rm/heldout_answers.json`, held);
    const back = await readHeldoutAnswers(`${dir}/rm/heldout_answers.json`);
    assertEquals(back.map((h) => [h.task.question, h.task.answer, h.samples]), [["q?", "7", held[0]!.samples]]);
    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify([{ question: "q" }]));
    await rejects(
      readHeldoutAnswers(`${dir}/bad.json`),
      (e) => e instanceof ConfigError && /bad\.json/.test(e.message),
    );
    await rejects(readHeldoutAnswers(`${dir}/missing.json`), ConfigError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
