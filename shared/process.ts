/** Stopping child processes: one signal, then SIGKILL after a grace period, as agents, local clusters and tests do. */

/** Options for {@link terminate}. */
export interface TerminateOptions {
  /** The first signal (default SIGTERM); SIGKILL follows after the grace period if the process has not exited. */
  signal?: Deno.Signal;
  /** What "exited" means (default `child.status`), e.g. the status once the process's output was drained. */
  exited?: Promise<unknown>;
}

/** Signals `child`, SIGKILLs it if it is still running after `graceMs`, and resolves once it exited. */
export async function terminate(
  child: Deno.ChildProcess,
  graceMs: number,
  options: TerminateOptions = {},
): Promise<void> {
  const send = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* already exited */ }
  };
  send(options.signal ?? "SIGTERM");
  const timer = setTimeout(() => send("SIGKILL"), graceMs);
  try {
    await (options.exited ?? child.status);
  } finally {
    clearTimeout(timer);
  }
}
