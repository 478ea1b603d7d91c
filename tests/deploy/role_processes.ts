/**
 * What the per-role credential tests share: the CLI processes each role runs as (coordinator, agents), and the check
 * that the server refused a request for lack of rights.
 */
import { ok, rejects, strictEqual } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ManagedProcess } from "../../coordinator/local/mod.ts";

export const CLI = fileURLToPath(new URL("../../coordinator/cli.ts", import.meta.url));
export const REGISTRY = fileURLToPath(new URL("../runtime/fixtures/test_actors.ts", import.meta.url));

/** The request fails because the server refused it (a permissions violation). */
export async function refused(what: string, attempt: () => Promise<unknown>): Promise<void> {
  await rejects(attempt, (error: unknown) => {
    ok(/Permissions Violation/i.test(String(error)), `${what}: ${error}`);
    return true;
  }, what);
}

/** CLI processes started for one test, each with its own role's credentials in `env`, all stopped together. */
export class RoleProcesses {
  #processes: ManagedProcess[] = [];

  /** Starts `coop <args>` as a child that exits with the test. */
  start(name: string, args: string[], env: Record<string, string>): ManagedProcess {
    const process = new ManagedProcess(name, Deno.execPath(), ["run", "-A", "--no-prompt", CLI, ...args], {
      env: { COOP_EXIT_WITH_PARENT: "1", ...env },
      echo: Deno.env.get("COOP_VERBOSE") === "1",
    });
    this.#processes.push(process);
    return process;
  }

  /** Every process started, for their output in failure messages. */
  get all(): readonly ManagedProcess[] {
    return this.#processes;
  }

  /** After an admin's shutdown: the coordinator exits within 30 s, and no role was refused anything it needs. */
  async assertCleanShutdown(coordinator: ManagedProcess): Promise<void> {
    const status = await Promise.race([
      coordinator.status,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000)),
    ]);
    ok(status !== null, "the coordinator exited after the admin's shutdown");
    const violations = this.#processes.flatMap((p) => p.output.filter((l) => /Permissions Violation/i.test(l)));
    strictEqual(violations.join("\n"), "", "no role was refused anything it needs");
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#processes.map((p) => p.stop()));
  }
}
