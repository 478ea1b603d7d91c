/**
 * The live dashboard in headless Chromium (Debian's `chromium`, driven by playwright-core): a real cluster with an
 * API token and a tiny run; the page asks for the token, then shows the node, the run's actors and charts that
 * advance as the run trains (DOM point counts and two differing screenshots), and its stop button stops the run.
 * With COOP_UPDATE_SCREENSHOT=1 the last screenshot is saved as docs/dashboard.png. Skips, saying why, when chromium is not installed.
 */
import { ok, strictEqual } from "node:assert";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { chromium } from "playwright-core";
import { freePort, startLocalCluster } from "../../coordinator/local/mod.ts";
import { ApiClient } from "../../coordinator/run/api_client.ts";
import { type NatsServer, startNats } from "../harness.ts";
import { CLUSTER_TEST, eventually, rootsIn } from "../runtime/cluster_fixture.ts";
import { tinyRunConfig } from "./fixtures/tiny_run.ts";

const CHROMIUM = Deno.env.get("COOP_CHROMIUM") ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SCREENSHOT = new URL("../../docs/dashboard.png", import.meta.url);
const TOKEN = "dashboard-test-token";

function chromiumMissing(): string | undefined {
  try {
    Deno.statSync(CHROMIUM);
    return undefined;
  } catch {
    return `${CHROMIUM} not found (apt-get install -y chromium, or set COOP_CHROMIUM)`;
  }
}

const missing = chromiumMissing();
if (missing !== undefined) console.log(`dashboard test skipped: ${missing}`);

Deno.test({
  name: "dashboard - live charts and the stop button in headless Chromium",
  ignore: missing !== undefined,
  ...CLUSTER_TEST,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "coop-dashboard-" });
  const previousToken = Deno.env.get("COOP_API_TOKEN");
  // Inherited by the coordinator process: the API (and so the dashboard's data) needs the bearer token.
  Deno.env.set("COOP_API_TOKEN", TOKEN);
  let server: NatsServer | undefined;
  let stopCluster = async () => {};
  let closeBrowser = async () => {};
  try {
    server = await startNats({ maxPayload: 8 * 1024 * 1024 });
    const port = freePort();
    const local = await startLocalCluster({
      natsUrl: server.url,
      env: rootsIn(dir),
      apiPort: port,
      cluster: "dash",
      agents: [{ nodeId: "n1", cpus: 8 }],
    });
    stopCluster = local.stop;
    const api = new ApiClient(`http://127.0.0.1:${port}`, TOKEN);
    const run = await api.startRun(
      tinyRunConfig(dir, { name: "dash", checkpoint: { dir: `${dir}/runs`, interval: 0 } }),
    );

    const context = await chromium.launchPersistentContext(await Deno.makeTempDir({ prefix: "coop-chromium-" }), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 1100 },
    });
    closeBrowser = () => context.close();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('#connection[data-state="unauthorized"]');
    await page.fill("#token", TOKEN);
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#connection[data-state="live"]');
    await page.waitForSelector('#nodes tr[data-node="n1"]');
    const card = `.run[data-run="${run.id}"]`;
    const rewardPoints = () =>
      page.$eval(`${card} figure[data-chart="reward"] svg`, (svg) => Number(svg.getAttribute("data-points") ?? 0));
    await page.waitForSelector(`${card} figure[data-chart="reward"] svg[data-points]`, { timeout: 120_000 });
    await eventually("a first chart point", async () => ((await rewardPoints()) >= 2 ? true : undefined), 120_000);
    const first = { points: await rewardPoints(), shot: await page.screenshot({ fullPage: true }) };
    await eventually(
      "the charts to advance",
      async () => ((await rewardPoints()) > first.points + 1 ? true : undefined),
      120_000,
    );
    const second = await page.screenshot({ fullPage: true });
    ok(!equalBytes(first.shot, second), "the page looks different once the charts advanced");

    // What the page shows matches the cluster: the run's actors, its step, its charts.
    const actorNames = await page.$$eval(
      "#actors tr[data-actor] td:nth-child(2)",
      (cells) => cells.map((c) => c.textContent),
    );
    ok(actorNames.some((n) => n === `${run.id}-policy-learner`), actorNames.join(", "));
    ok(Number(await page.getAttribute(card, "data-step")) >= 1);
    const cpu = await page.textContent('#nodes tr[data-node="n1"] td:nth-child(3)');
    ok(/\/8$/.test(cpu ?? ""), `CPU free/total of n1: ${cpu}`);
    for (const chart of ["accuracy", "agreement", "hacking", "throughput"]) {
      const points = await page.$eval(
        `${card} figure[data-chart="${chart}"] svg`,
        (svg) => Number(svg.getAttribute("data-points")),
      );
      ok(points > 0, `chart ${chart} has points`);
    }
    // A metric this (rule-mode) run never reports draws a placeholder, not an error.
    strictEqual(await page.textContent(`${card} figure[data-chart="rm-loss"] svg`), "no data yet");

    // The same run on /metrics, scraped with the same token.
    const scrape = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    strictEqual(scrape.status, 200);
    const families = parsePrometheusTextFormat(await scrape.text()) as {
      name: string;
      metrics: { value?: string; labels?: Record<string, string> }[];
    }[];
    const sample = (name: string) =>
      Number(families.find((f) => f.name === name)?.metrics.find((m) => m.labels?.run === run.id)?.value);
    ok(sample("coop_run_step") >= 1, "coop_run_step");
    ok(sample("coop_weight_publish_bytes_total") > 1000, "coop_weight_publish_bytes_total");
    ok(sample("coop_run_samples_per_second") > 0, "coop_run_samples_per_second");

    await page.click(`${card} button.stop`);
    await page.waitForSelector(`${card}[data-state="stopped"]`, { timeout: 120_000 });
    strictEqual((await api.run(run.id)).state, "stopped");
    ok(await page.isDisabled(`${card} button.stop`));
    ok(await page.isHidden("#problem"), (await page.textContent("#problem")) ?? "");
    strictEqual(pageErrors.length, 0, pageErrors.join("\n"));
    // The stopped run's actors go away, and the page's next cluster snapshot says so.
    await eventually("the page to show the run's actors dead or gone", async () => {
      const rows = await page.$$eval(
        "#actors tr[data-actor]",
        (trs) => trs.map((tr) => [tr.children[1]?.textContent ?? "", tr.children[4]?.textContent ?? ""]),
      );
      return rows.every(([name, state]) => !name!.startsWith(`${run.id}-`) || state === "dead") ? true : undefined;
    }, 30_000);
    const screenshot = await page.screenshot({ fullPage: true });
    // The interactive API reference renders every route from /openapi.json (Swagger UI, served locally).
    const docs = await context.newPage();
    await docs.goto(`http://127.0.0.1:${port}/docs`);
    await docs.waitForSelector(".opblock", { timeout: 30_000 });
    ok((await docs.$$(".opblock")).length >= 11, "every route is listed");
    strictEqual(pageErrors.length, 0, pageErrors.join("\n"));
    // COOP_UPDATE_SCREENSHOT=1 refreshes the committed docs image (so plain test runs leave the tree clean).
    if (Deno.env.get("COOP_UPDATE_SCREENSHOT") === "1") {
      await Deno.writeFile(SCREENSHOT, screenshot);
    }
  } finally {
    await closeBrowser().catch(() => {});
    await stopCluster();
    await server?.stop();
    if (previousToken === undefined) Deno.env.delete("COOP_API_TOKEN");
    else Deno.env.set("COOP_API_TOKEN", previousToken);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}
