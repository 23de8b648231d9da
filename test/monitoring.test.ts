import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { type OrderJson, sampleOrder, startTestService, type TestService } from "./helpers/service";

const DEPLOY = new URL("../deploy", import.meta.url).pathname;
let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

function promtool(...args: string[]): { code: number; output: string } {
  const result = Bun.spawnSync(["promtool", ...args], { cwd: join(DEPLOY, "prometheus"), stderr: "pipe" });
  return { code: result.exitCode, output: `${result.stdout.toString()}${result.stderr.toString()}` };
}

test("the alert rules pass promtool's check, and its unit tests show each alert firing", () => {
  expect(Bun.which("promtool"), "promtool is missing: scripts/ensure-test-tools.sh installs it").not.toBeNull();
  const checked = promtool("check", "rules", "alerts.yml");
  expect(checked.output).toContain("SUCCESS: 4 rules found");
  expect(checked.code).toBe(0);
  const tested = promtool("test", "rules", "alerts.test.yml");
  expect(tested.output).toContain("SUCCESS");
  expect(tested.code).toBe(0);
});

/** Metric names an expression reads (PromQL functions, label names and literals left out). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"[^"]*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\b(by|without)\s*\([^)]*\)/g, "")
    .replace(/\[[^\]]*\]/g, "");
  const functions = new Set(["sum", "max", "min", "count", "avg", "rate", "increase", "deriv", "histogram_quantile"]);
  const words = bare.match(/\b[a-z_][a-z0-9_]*\b/g) ?? [];
  return words.filter((word) => !functions.has(word) && !["and", "or", "up"].includes(word));
}

test("every metric the Grafana dashboard and the alert rules read is one the service exposes", async () => {
  service = await startTestService();
  const { id } = (await (await service.post(sampleOrder())).json()) as OrderJson;
  await service.waitForOrder(id, (order) => order.status === "completed");
  const exposition = await (await service.app.request("/metrics")).text();
  // Declared metrics, whether or not a labelled series has a sample yet; histograms by their series.
  const exposed = new Set(
    exposition.split("\n").flatMap((line) => {
      const [, name, type] = /^# TYPE ([a-z_][a-z0-9_]*) (\w+)$/.exec(line) ?? [];
      if (!name) return [];
      return type === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
    }),
  );

  const dashboard = (await Bun.file(join(DEPLOY, "grafana/order-pipeline.json")).json()) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  const dashboardExprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
  const alerts = await Bun.file(join(DEPLOY, "prometheus/alerts.yml")).text();
  const alertExprs = [...alerts.matchAll(/expr: (?:>-\n)?((?:.+\n?)+?)\s+(?:for|labels):/g)].map((match) => match[1]!);
  expect(dashboardExprs.length).toBeGreaterThanOrEqual(10);
  expect(alertExprs).toHaveLength(4);
  const read = new Set([...dashboardExprs, ...alertExprs].flatMap(metricNames));
  for (const name of ["service_ready", "queue_messages", "messages_consumed_total", "handler_duration_seconds_bucket"])
    expect(read).toContain(name);
  expect([...read].filter((name) => !exposed.has(name))).toEqual([]);
});
