/**
 * `bun bench/flow-control.ts [--reps 5] [--seconds 8]`: what flow control costs, in one run.
 *
 * 1. Declared but not limiting: the service (ROLE=all, no-op handler) with a handler timeout, a
 *    concurrency limit no order reaches, or a rate limit above what the machine does, against
 *    the same service without, in interleaved repetitions: orders/s end to end (wrk at 64
 *    connections, until every accepted order completed) and CPU per order.
 * 2. A limit of one order per customer among many customers: 2,000 orders of 100 customers (20
 *    each, interleaved) through a 10 ms handler, limit 1 against no limit: the time until all
 *    of them completed.
 * Prints every repetition, the medians, the ratios to the service without flow control, and one
 * JSON line.
 */
import { parseArgs } from "node:util";
import { createBenchEnv, type RascalConfigOptions } from "./lib/bench-env";
import { CpuMeter, type CpuPerOrder, cpuSplit, medianCpu } from "./lib/cpu-meter";
import { drain, measureIntake } from "./lib/measure-intake";
import { SAMPLE_ORDER } from "./lib/sample-order";
import { median } from "./lib/stats";
import { serviceCounts, startOrderService } from "./lib/targets";
import { runWrk } from "./lib/wrk";

const WARM_UP_SEC = 5;
const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { reps: { type: "string", default: "5" }, seconds: { type: "string", default: "8" } },
});
const reps = Number(values.reps);
const seconds = Number(values.seconds);
const say = (text: string) => console.error(`[flow-control] ${text}`);

const FEATURES: { name: string; pipeline: Record<string, unknown> }[] = [
  { name: "none", pipeline: {} },
  { name: "timeout", pipeline: { timeouts: { process_order: 60_000 } } },
  { name: "concurrency", pipeline: { concurrency: { process_order: { key: "customerId", limit: 10_000 } } } },
  { name: "rate limit", pipeline: { rateLimits: { process_order: { perSecond: 100_000 } } } },
];
const CUSTOMERS = 100;
const ORDERS = 2000;
const LIMITS: { name: string; pipeline: Record<string, unknown> }[] = [
  { name: "no limit", pipeline: {} },
  { name: "limit 1 per customer", pipeline: { concurrency: { process_order: { key: "customerId", limit: 1 } } } },
];

interface Figures {
  endToEndPerSec: number;
  cpu: CpuPerOrder;
}
const declared = new Map<string, Figures[]>(FEATURES.map((feature) => [feature.name, []]));
const finishing = new Map<string, number[]>(LIMITS.map((limit) => [limit.name, []]));

for (let rep = 1; rep <= reps; rep++) {
  // Rotate the order, so that no variant always runs on the warmer machine.
  for (const feature of rotate(FEATURES, rep)) {
    const figures = await measureDeclared({ namespace: "flow", pipeline: feature.pipeline });
    declared.get(feature.name)!.push(figures);
    say(`rep ${rep}/${reps} declared ${feature.name}: ${describe(figures)}`);
  }
  for (const limit of rotate(LIMITS, rep)) {
    const ms = await measureCustomers({ namespace: "customers", handler: "bench-hold", pipeline: limit.pipeline });
    finishing.get(limit.name)!.push(ms);
    say(`rep ${rep}/${reps} ${limit.name}: ${ORDERS} orders of ${CUSTOMERS} customers in ${Math.round(ms)} ms`);
  }
}

const medians = Object.fromEntries(
  [...declared].map(([name, runs]) => [
    name,
    { endToEndPerSec: median(runs.map((run) => run.endToEndPerSec)), cpu: medianCpu(runs.map((run) => run.cpu)) },
  ]),
);
const none = medians.none!;
const costs = Object.fromEntries(
  FEATURES.slice(1).map(({ name }) => [
    name,
    {
      endToEnd: medians[name]!.endToEndPerSec / none.endToEndPerSec,
      cpuPerOrder: medians[name]!.cpu.totalUs / none.cpu.totalUs,
    },
  ]),
);
const finishMs = Object.fromEntries([...finishing].map(([name, runs]) => [name, median(runs)]));
const limitedVsUnlimited = finishMs["limit 1 per customer"]! / finishMs["no limit"]!;

console.log(`\n${reps} interleaved repetitions, medians:`);
for (const [name, figures] of Object.entries(medians)) {
  const cost = costs[name];
  const ratio = cost
    ? ` — ${cost.endToEnd.toFixed(3)}× end to end, ${cost.cpuPerOrder.toFixed(3)}× CPU per order of "none"`
    : "";
  console.log(`  declared ${name.padEnd(12)} ${describe(figures)}${ratio}`);
}
for (const [name, ms] of Object.entries(finishMs))
  console.log(`  ${name.padEnd(21)} ${ORDERS} orders of ${CUSTOMERS} customers completed in ${Math.round(ms)} ms`);
console.log(`  limit 1 / no limit: ${limitedVsUnlimited.toFixed(3)}× the time to finish\n`);
console.log(
  JSON.stringify({
    bench: "order-pipeline-flow-control",
    reps,
    seconds,
    medians,
    costs,
    finishMs,
    limitedVsUnlimited,
    runs: { declared: Object.fromEntries(declared), finishing: Object.fromEntries(finishing) },
  }),
);

/** One fresh service with `rascal`'s pipeline: warm-up, then one measured run end to end. */
async function measureDeclared(rascal: RascalConfigOptions & { namespace: string }): Promise<Figures> {
  const env = await createBenchEnv();
  const service = await startOrderService(env, { rascal });
  try {
    const url = `${service.baseUrl}/orders`;
    await runWrk({ url, connections: 64, durationSec: WARM_UP_SEC, okStatus: 202 });
    const counts = serviceCounts(service);
    await drain(counts);
    const round = await measureIntake(url, seconds, counts, new CpuMeter(service.pid));
    if (!round.cpu || round.endToEndPerSec === undefined) throw new Error("no figures: the service could not be read");
    if (round.wrk.other + round.wrk.errors > 0)
      throw new Error(`non-202 answers: ${JSON.stringify(round.wrk.statuses)}`);
    return { endToEndPerSec: round.endToEndPerSec, cpu: round.cpu };
  } finally {
    await service.stop();
    await env.cleanup();
  }
}

/** Milliseconds from sending ORDERS orders of CUSTOMERS customers until all of them completed. */
async function measureCustomers(rascal: RascalConfigOptions & { namespace: string }): Promise<number> {
  const env = await createBenchEnv();
  const service = await startOrderService(env, { rascal });
  try {
    const counts = serviceCounts(service);
    const send = async (batches: number) => {
      const answers = await Promise.all(
        Array.from({ length: batches }, (_, batch) =>
          fetch(`${service.baseUrl}/orders/batch`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({
              orders: Array.from({ length: 100 }, (_, index) => ({
                ...SAMPLE_ORDER,
                customerId: `c-${(batch * 100 + index) % CUSTOMERS}`,
              })),
            }),
          }),
        ),
      );
      if (answers.some((answer) => answer.status !== 200)) throw new Error("a batch was refused");
      await drain(counts);
    };
    await send(2);
    const started = performance.now();
    await send(ORDERS / 100);
    return performance.now() - started;
  } finally {
    await service.stop();
    await env.cleanup();
  }
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

function describe(figures: Figures): string {
  const cpu = `CPU per order ${Math.round(figures.cpu.totalUs)} µs (${cpuSplit(figures.cpu)})`;
  return `${Math.round(figures.endToEndPerSec)} orders/s, ${cpu}`;
}
