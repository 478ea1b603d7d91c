/**
 * Scores saved RM checkpoints on a `heldout_answers.json` (the SFT policy's answers to the RM's held-out tasks, as
 * RM pretraining writes it): within-prompt pairwise and σ > ½ accuracy against the verifier, in-process. One JSON
 * line per checkpoint — the before/after of an RM (pretrained, or a cooper run's last checkpoint):
 *   deno run -A coordinator/run/experiments/rm_heldout.ts runs/demo/seed-1/rm/heldout_answers.json DIR [DIR ...]
 */
import { loadTokenizer } from "../../../actors/roles/mod.ts";
import { Scorer } from "../../../engine/score/mod.ts";
import { formatRmInput, rmAgreement, verify } from "../../../rl/mod.ts";
import { readHeldoutAnswers } from "../heldout_answers.ts";
import { checkpointRuntime } from "../rm_sweep.ts";

async function main(): Promise<void> {
  const [answers, ...dirs] = Deno.args;
  if (answers === undefined || dirs.length === 0) {
    console.error("usage: rm_heldout.ts HELDOUT_ANSWERS.json RM_DIR [RM_DIR ...]");
    Deno.exit(2);
  }
  const held = await readHeldoutAnswers(answers);
  const tokenizer = await loadTokenizer("char");
  const rows = held.flatMap(({ task, samples }, g) =>
    samples.map((s) => ({ g: String(g), input: formatRmInput(task.question, task.answer, s), task, s }))
  );
  const verdicts = rows.map((r) => verify(r.s, r.task.answer).verdict);
  for (const dir of dirs) {
    const runtime = await checkpointRuntime(dir, "rm");
    const maxLen = 256;
    const scores = await new Scorer(runtime).rewards(rows.map((r) => {
      const ids = tokenizer.encode(r.input, { addBos: true });
      return ids.length > maxLen ? [ids[0]!, ...ids.slice(ids.length - maxLen + 1)] : ids;
    }));
    const a = rmAgreement(scores, verdicts, rows.map((r) => r.g));
    console.log(JSON.stringify({ dir, pairwise: a.rankAccuracy, classification: a.accuracy, pairs: a.rankPairs }));
  }
}

if (import.meta.main) await main();
