/**
 * Test runner behind `./coop test [area]`: maps each area (one per issue) to the folders holding its tests and
 * runs them with `deno test`. Unit tests live beside their modules (`*_test.ts`); tests that need processes or
 * NATS live under `tests/<area>/`.
 */
const AREAS: Record<string, string[]> = {
  runtime: ["shared/", "actors/", "coordinator/", "bench/", "tests/runtime/"],
  engine: ["engine/", "tests/engine/"],
  rl: ["rl/", "tests/rl/"],
  deploy: ["tests/deploy/"],
  chaos: ["tests/chaos/"],
  house: ["tests/house/"],
};

function existing(paths: string[]): string[] {
  return paths.filter((path) => {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  });
}

const requested = Deno.args.filter((arg) => !arg.startsWith("-"));
const passThrough = Deno.args.filter((arg) => arg.startsWith("-"));
for (const area of requested) {
  if (!(area in AREAS)) {
    console.error(`Unknown test area "${area}": expected one of ${Object.keys(AREAS).join(", ")}`);
    Deno.exit(2);
  }
}
const areas = requested.length > 0 ? requested : Object.keys(AREAS);
let failed = false;
for (const area of areas) {
  const paths = existing(AREAS[area]!);
  if (paths.length === 0) {
    console.log(`== ${area}: no tests yet`);
    continue;
  }
  console.log(`== ${area}: deno test ${paths.join(" ")}`);
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--no-check=remote", ...passThrough, ...paths],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const { code } = await child.status;
  console.log(
    `== ${area}: ${code === 0 ? "passed" : "FAILED"} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  failed ||= code !== 0;
}
Deno.exit(failed ? 1 : 0);
