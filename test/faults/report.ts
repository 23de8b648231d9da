import type { Row } from "./run-scenario";

const COLUMNS: [string, (row: Row) => string | number][] = [
  ["scenario", (row) => row.scenario],
  ["sent", (row) => row.sent],
  ["202", (row) => row.accepted],
  ["503", (row) => row.unavailable],
  ["other", (row) => row.other],
  ["409", (row) => row.inFlight],
  ["replayed", (row) => row.replayed],
  ["refused", (row) => row.refused],
  ["dropped", (row) => row.dropped],
  ["hung", (row) => row.hung],
  ["max 202 ms", (row) => row.slowest202Ms],
  ["max 503 ms", (row) => row.slowest503Ms],
  ["202/s", (row) => row.acceptedPerSecond],
  ["max s without 202", (row) => (row.longestWithout202Ms / 1000).toFixed(1)],
  ["completed", (row) => row.completed],
  ["lost", (row) => row.lost],
  ["double", (row) => row.doubleCompletions],
  ["restarted", (row) => row.restarted],
  ["effect x2 after crash", (row) => row.effectTwiceAfterCrash],
  ["orphans", (row) => row.orphans],
  ["dup skipped", (row) => row.duplicatesSkipped],
  ["late dropped", (row) => row.lateDropped],
  ["retried", (row) => row.retried],
  ["queues drained", (row) => (row.busyQueues.length === 0 ? "yes" : row.busyQueues.join(", "))],
  ["readyz 503 api/worker", (row) => `${row.readyz503.api ? "yes" : "no"}/${row.readyz503.worker ? "yes" : "no"}`],
  ["s", (row) => row.seconds],
  ["result", (row) => (row.passed ? "PASS" : "FAIL")],
];

/** The results as a Markdown table (printed, and pasted into the README). */
export function formatTable(rows: readonly Row[]): string {
  const cells = [COLUMNS.map(([title]) => title), ...rows.map((row) => COLUMNS.map(([, cell]) => String(cell(row))))];
  const widths = COLUMNS.map((_, column) => Math.max(...cells.map((line) => line[column]!.length)));
  const line = (values: string[]) => `| ${values.map((value, column) => value.padEnd(widths[column]!)).join(" | ")} |`;
  return [line(cells[0]!), line(widths.map((width) => "-".repeat(width))), ...cells.slice(1).map(line)].join("\n");
}
