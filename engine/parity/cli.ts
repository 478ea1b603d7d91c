/**
 * `./coop parity DIR [--no-grads] [--threads N]`: checks the model in DIR against reference outputs in the fixture
 * format, prints each quantity's error next to its tolerance and exits 1 when one is exceeded (2 on bad input).
 */
import { checkParity, formatParity } from "./check.ts";

/** Runs the parity CLI on `args`; returns the process exit code. */
export async function parityMain(args: readonly string[]): Promise<number> {
  const dirs = args.filter((a) => !a.startsWith("--"));
  const threadsAt = args.indexOf("--threads");
  const threads = threadsAt >= 0 ? Number(args[threadsAt + 1]) : undefined;
  if (threadsAt >= 0) dirs.splice(dirs.indexOf(args[threadsAt + 1]!), 1);
  if (dirs.length !== 1 || (threads !== undefined && !(Number.isInteger(threads) && threads > 0))) {
    console.error("usage: ./coop parity DIR [--no-grads] [--threads N]");
    return 2;
  }
  try {
    const report = await checkParity(dirs[0]!, {
      grads: !args.includes("--no-grads"),
      session: threads ? { intraOpThreads: threads } : {},
    });
    console.log(formatParity(report));
    return report.ok ? 0 : 1;
  } catch (error) {
    console.error(`parity: ${(error as Error).name}: ${(error as Error).message}`);
    return 2;
  }
}

if (import.meta.main) Deno.exit(await parityMain(Deno.args));
