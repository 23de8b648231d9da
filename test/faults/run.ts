/**
 * The fault suite (`bun run faults`): a real service (api + worker processes) on a private
 * RabbitMQ node and a private Redis, under concurrent orders, through each fault of
 * SCENARIOS; then a table of what was accepted, lost, done twice or answered wrongly.
 * Exits non-zero when any scenario breaks the contract or a log line shows a credential.
 *
 *   bun run faults [--only <text>] [--echo]
 */
import { Cluster } from "./cluster";
import { formatTable } from "./report";
import { type Row, runScenario } from "./run-scenario";
import { SCENARIOS } from "./scenarios";

const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const cluster = new Cluster(args.includes("--echo"));

let cleaning: Promise<void> | undefined;
const cleanup = () => (cleaning ??= cluster.destroy());
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: tearing down the private broker and Redis`);
    cleanup().finally(() => process.exit(130));
  });
}

let exitCode = 1;
const suiteStarted = performance.now();
try {
  await cluster.start();
  console.log(
    `private RabbitMQ ${cluster.broker.nodeName} on :${cluster.broker.port} ` +
      `booted in ${(cluster.brokerBootMs / 1000).toFixed(1)} s; private Redis on :${cluster.redis.port} (AOF)`,
  );
  const redis = cluster.redis.client();
  const known = new Set<string>();
  const rows: Row[] = [];
  for (const scenario of SCENARIOS.filter((candidate) => !only || candidate.name.includes(only))) {
    console.log(`▶ ${scenario.name}`);
    const row = await runScenario(cluster, scenario, redis, known);
    rows.push(row);
    console.log(
      `  ${row.passed ? "PASS" : "FAIL"} in ${row.seconds} s${row.error ? ` — ${row.error}` : ""}` +
        `${row.notes.length ? ` (${row.notes.join("; ")})` : ""}`,
    );
  }
  redis.disconnect();

  const leaks = cluster.history.flatMap(({ role, service }) =>
    service.lines.filter((line) => line.includes(cluster.secret)).map((line) => `${role}: ${line}`),
  );
  console.log(`\n${formatTable(rows)}\n`);
  const checked = cluster.history.reduce((sum, { service }) => sum + service.lines.length, 0);
  console.log(`log lines checked for credentials: ${checked}, leaks: ${leaks.length}`);
  for (const leak of leaks.slice(0, 5)) console.log(`  LEAK ${leak}`);
  console.log(`total ${((performance.now() - suiteStarted) / 1000).toFixed(0)} s`);
  exitCode = rows.every((row) => row.passed) && leaks.length === 0 ? 0 : 1;
} catch (error) {
  console.error("fault suite could not run:", error);
} finally {
  await cleanup();
}
process.exit(exitCode);
