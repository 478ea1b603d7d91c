import { strictEqual } from "node:assert/strict";
import { terminate } from "./process.ts";

function spawn(script: string): Deno.ChildProcess {
  return new Deno.Command("sh", { args: ["-c", script], stdout: "piped", stderr: "null" }).spawn();
}

/** Waits for the script's first output, so a signal cannot arrive before its trap is set. */
async function ready(child: Deno.ChildProcess): Promise<void> {
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  void child.stdout.cancel();
}

Deno.test("terminate - SIGTERM stops a cooperative process; one that ignores it is SIGKILLed after the grace", async () => {
  const polite = spawn("echo ready; exec sleep 30");
  await ready(polite);
  await terminate(polite, 10_000);
  strictEqual((await polite.status).signal, "SIGTERM");

  // `exec sleep` after trapping TERM: the ignored disposition survives exec, so only SIGKILL ends it.
  const stubborn = spawn("trap '' TERM; echo ready; exec sleep 30");
  await ready(stubborn);
  await terminate(stubborn, 200);
  strictEqual((await stubborn.status).signal, "SIGKILL");

  const exited = spawn("exit 3");
  void exited.stdout.cancel();
  await exited.status;
  await terminate(exited, 10_000); // signalling a finished process is not an error
  strictEqual((await exited.status).code, 3);
});
