/**
 * The fault suite: the real service under concurrent orders, through each fault of its
 * scenarios; then a table of what was accepted, lost, done twice or answered wrongly. Exits
 * non-zero when any scenario breaks the contract or a log line shows a credential.
 *
 *   bun run faults [--cluster [--short]] [--only <text>] [--echo]
 *
 * By default: one api and one worker process on a private RabbitMQ node and a private Redis.
 * `--cluster`: two of each on a private 3-node RabbitMQ cluster and Redis with Sentinel
 * (`--short`: the scenarios CI runs). The machine's shared broker and Redis are never touched.
 */
import { CLUSTER_SCENARIOS } from "./cluster-scenarios";
import { Clustered } from "./clustered";
import type { Deployment } from "./deployment";
import { formatTable } from "./report";
import { type Row, runScenario } from "./run-scenario";
import type { Scenario } from "./scenario";
import { SCENARIOS } from "./scenarios";
import { SingleNode } from "./single-node";

const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const echo = args.includes("--echo");
const clustered = args.includes("--cluster");
const deployment: Deployment = clustered ? new Clustered({ echo }) : new SingleNode({ echo });
const scenarios = ((clustered ? CLUSTER_SCENARIOS : SCENARIOS) as Scenario[]).filter(
  (scenario) => (!only || scenario.name.includes(only)) && (!args.includes("--short") || scenario.short),
);

let cleaning: Promise<void> | undefined;
const cleanup = () => (cleaning ??= deployment.destroy());
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: tearing down the private broker and Redis`);
    cleanup().finally(() => process.exit(130));
  });
}

let exitCode = 1;
const suiteStarted = performance.now();
try {
  await deployment.start();
  console.log(deployment.describe());
  const redis = deployment.redisClient();
  const known = new Set<string>();
  const rows: Row[] = [];
  for (const scenario of scenarios) {
    console.log(`▶ ${scenario.name}`);
    const row = await runScenario(deployment, scenario, redis, known);
    rows.push(row);
    console.log(
      `  ${row.passed ? "PASS" : "FAIL"} in ${row.seconds} s${row.error ? ` — ${row.error}` : ""}` +
        `${row.notes.length ? ` (${row.notes.join("; ")})` : ""}`,
    );
  }
  redis.disconnect();

  const leaks = deployment.history.flatMap(({ role, service }) =>
    service.lines.filter((line) => line.includes(deployment.secret)).map((line) => `${role}: ${line}`),
  );
  console.log(`\n${formatTable(rows)}\n`);
  const checked = deployment.history.reduce((sum, { service }) => sum + service.lines.length, 0);
  console.log(`log lines checked for credentials: ${checked}, leaks: ${leaks.length}`);
  for (const leak of leaks.slice(0, 5)) console.log(`  LEAK ${leak}`);
  console.log(`total ${((performance.now() - suiteStarted) / 1000).toFixed(0)} s`);
  exitCode = rows.length > 0 && rows.every((row) => row.passed) && leaks.length === 0 ? 0 : 1;
} catch (error) {
  console.error("fault suite could not run:", error);
} finally {
  await cleanup();
}
process.exit(exitCode);
