/**
 * The monitoring profile (deploy/compose.monitoring.yaml: Prometheus + Grafana) cannot run here (no Docker
 * engine), so its files are cross-checked: the overlay's services sit in the `monitoring` profile and mount files
 * that exist, Prometheus scrapes the coordinator's /metrics with the token file its command writes, Grafana is
 * provisioned with that Prometheus and the dashboard, and every metric the dashboard queries is one the
 * coordinator's exporter really exports.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { MetricsExporter } from "../../coordinator/metrics.ts";
import { ROOT } from "./host.ts";

const DEPLOY = `${ROOT}/deploy`;
// deno-lint-ignore no-explicit-any
type Doc = any;

Deno.test("monitoring files - compose profile, Prometheus scrape, Grafana provisioning and dashboard metrics", async () => {
  const overlay: Doc = parseYaml(await Deno.readTextFile(`${DEPLOY}/compose.monitoring.yaml`));
  const base: Doc = parseYaml(await Deno.readTextFile(`${DEPLOY}/compose.yaml`), { merge: true });
  deepStrictEqual(Object.keys(overlay.services).sort(), ["grafana", "prometheus"]);
  for (const [name, service] of Object.entries<Doc>(overlay.services)) {
    deepStrictEqual(service.profiles, ["monitoring"], name);
    for (const volume of service.volumes as string[]) {
      const source = volume.split(":")[0]!;
      if (source.startsWith("./")) await Deno.stat(`${DEPLOY}/${source}`);
      else ok(source in overlay.volumes, `${name} volume ${source} is declared`);
    }
    for (const dependency of Object.keys(service.depends_on)) {
      ok(dependency in overlay.services || dependency in base.services, `${name} depends on ${dependency}`);
    }
  }

  const prometheus: Doc = parseYaml(await Deno.readTextFile(`${DEPLOY}/prometheus/prometheus.yml`));
  const job = prometheus.scrape_configs[0];
  strictEqual(job.metrics_path, "/metrics");
  deepStrictEqual(job.static_configs[0].targets, ["coordinator:8470"]);
  ok(base.services.coordinator.ports.some((p: string) => p.endsWith(":8470")));
  strictEqual(job.authorization.type, "Bearer");
  const command = overlay.services.prometheus.command.join(" ");
  ok(command.includes(`> ${job.authorization.credentials_file}`), command);
  ok(command.includes("$$COOP_API_TOKEN"), "the token comes from the environment (escaped for compose)");

  const datasources: Doc = parseYaml(
    await Deno.readTextFile(`${DEPLOY}/grafana/provisioning/datasources/prometheus.yaml`),
  );
  const source = datasources.datasources[0];
  strictEqual(source.url, "http://prometheus:9090");
  const provider: Doc = parseYaml(await Deno.readTextFile(`${DEPLOY}/grafana/provisioning/dashboards/coop.yaml`));
  const dashboardsMount = overlay.services.grafana.volumes.find((v: string) => v.startsWith("./grafana/dashboards"));
  strictEqual(dashboardsMount.split(":")[1], provider.providers[0].options.path);

  const dashboard: Doc = JSON.parse(await Deno.readTextFile(`${DEPLOY}/grafana/dashboards/coop.json`));
  const exporter = new MetricsExporter({
    deps: {
      snapshot: () => ({
        coordinator: { id: "c", startedAt: "" },
        nodes: [],
        actors: [],
        pending: [],
        placementGroups: [],
      }),
    },
    runs: { list: () => [], metrics: () => [], subscribeAll: () => () => {} },
  });
  const exported = new Set((await exporter.registry.getMetricsAsJSON()).map((m) => m.name));
  exporter.close();
  const used = new Set<string>();
  for (const panel of dashboard.panels) {
    strictEqual(panel.datasource.uid, source.uid, panel.title);
    for (const target of panel.targets) {
      for (const name of target.expr.match(/coop_[a-z_]+/g) ?? []) used.add(name.replace(/_(bucket|sum|count)$/, ""));
    }
  }
  ok(used.size >= 15, `the dashboard queries ${used.size} metrics`);
  for (const name of used) ok(exported.has(name), `the dashboard queries ${name}, which the coordinator exports`);
  ok(dashboard.templating.list[0].query.query.includes("coop_run_step"));
});
