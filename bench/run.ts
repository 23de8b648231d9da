/**
 * `bun run bench`: measures, in one run and side by side, the ceilings (raw amqplib confirmed
 * publish+consume, and publish alone on a quorum queue with 64 in flight; a bare Hono route),
 * the peers (a straightforward Hono+zod+Rascal intake, a Hono+BullMQ order service, and the same
 * doing this service's default topology's work) and this service — whole (`ROLE=all`, like the
 * BullMQ service with its in-process worker) in the lean and the default topology, as intake
 * alone (`ROLE=api`, like the Rascal intake), and through POST /orders/batch — then prints a
 * table of figures with their ratios, the CPU per order of each process, the targets, and one
 * JSON line. Rounds are interleaved across targets
 * so that the shared machine's noise hits them alike; figures are medians over rounds.
 * `bun run bench --soak 300`: RSS growth of the service over 300 s at 1,000 orders/s.
 */
import { readArgs } from "./lib/args";
import { createBenchEnv } from "./lib/bench-env";
import { measureCompletionLatency } from "./lib/completion-latency";
import { CpuMeter, cpuSplit, medianCpu } from "./lib/cpu-meter";
import { CONNECTIONS, drain, type IntakeRound, measureIntake } from "./lib/measure-intake";
import { memoryOf, runScript, type Target } from "./lib/process";
import { formatTable, type Row, times } from "./lib/report";
import { medianRatio } from "./lib/round-ratios";
import { SAMPLE_ORDER } from "./lib/sample-order";
import { runSoak } from "./lib/soak";
import { median } from "./lib/stats";
import {
  bullmqCounts,
  purgeIntakeQueue,
  serviceCounts,
  startBareHono,
  startBullmqService,
  startOrderService,
  startRascalIntake,
} from "./lib/targets";
import { runWrk } from "./lib/wrk";

const args = readArgs(process.argv.slice(2));
const WARM_UP_SEC = 5;
const BATCH_SIZE = 100;
const BATCH_BODY = JSON.stringify({ orders: Array.from({ length: BATCH_SIZE }, () => SAMPLE_ORDER) });
const env = await createBenchEnv();
const targets: Target[] = [];
const say = (text: string) => console.error(`[bench] ${text}`);

let failed = false;
try {
  if (args.soakSec !== undefined) {
    const service = await startOrderService(env);
    targets.push(service);
    const soak = await runSoak(service, env, args.rate, args.soakSec, say);
    console.log(JSON.stringify({ bench: "order-pipeline-soak", ...soak }));
  } else {
    await runFull();
  }
} catch (error) {
  failed = true;
  say(`failed; the targets' logs are kept in ${env.dir}`);
  throw error;
} finally {
  for (const target of targets)
    await target.stop().catch((error: unknown) => say(`stopping ${target.name}: ${String(error)}`));
  await env.cleanup({ keepLogs: failed }).catch((error: unknown) => say(`cleanup: ${String(error)}`));
}

/** Orders accepted per second through POST /orders/batch at 64 connections; waits until they completed. */
async function measureBatchIntake(service: Target, seconds: number): Promise<number> {
  const counts = serviceCounts(service);
  const before = await counts.accepted();
  const wrk = await runWrk({
    url: `${service.baseUrl}/orders/batch`,
    connections: CONNECTIONS,
    durationSec: seconds,
    okStatus: 200,
    body: BATCH_BODY,
  });
  await Bun.sleep(50);
  const accepted = (await counts.accepted()) - before;
  await drain(counts);
  return accepted / wrk.durationSec;
}

async function runFull(): Promise<void> {
  say(`starting targets (run ${env.id})`);
  const bare = await startBareHono(env);
  const rascal = await startRascalIntake(env);
  const bullmq = await startBullmqService(env);
  const bullmqEqual = await startBullmqService(env, { equalWork: true });
  const service = await startOrderService(env);
  const serviceDefault = await startOrderService(env, { rascal: { namespace: "default", topology: "default" } });
  const intakeOnly = await startOrderService(env, { role: "api" });
  // Batches get a process of their own: 64 × 100 orders in flight would weigh on the latency
  // and peak RSS measured of `service`.
  const serviceBatch = await startOrderService(env, { rascal: { namespace: "batch" } });
  targets.push(bare, rascal, bullmq, bullmqEqual, service, serviceDefault, intakeOnly, serviceBatch);
  const defaultCounts = serviceCounts(serviceDefault, "notify_customer");
  const orders = (target: Target) => `${target.baseUrl}/orders`;

  // Bun's JIT keeps compiling for seconds after start (its compiler threads took a third of the
  // service's CPU in a 5 s run from cold): every target gets the same warm-up before measuring.
  say(`warming up (${WARM_UP_SEC} s per target)`);
  await runWrk({
    url: `${bare.baseUrl}/hello`,
    method: "GET",
    connections: CONNECTIONS,
    durationSec: WARM_UP_SEC,
    okStatus: 200,
  });
  for (const target of [rascal, bullmq, bullmqEqual, service, serviceDefault, intakeOnly])
    await runWrk({ url: orders(target), connections: CONNECTIONS, durationSec: WARM_UP_SEC, okStatus: 202 });
  await (await fetch(`${rascal.baseUrl}/bench/purge`, { method: "POST" })).text();
  await purgeIntakeQueue(env);
  await drain(bullmqCounts(bullmq));
  await drain(bullmqCounts(bullmqEqual));
  await drain(serviceCounts(service));
  await drain(defaultCounts);

  const amqp: number[] = [];
  const hono: number[] = [];
  const rascalRounds: IntakeRound[] = [];
  const bullmqRounds: IntakeRound[] = [];
  const serviceRounds: IntakeRound[] = [];
  const intakeOnlyRounds: IntakeRound[] = [];
  const bullmqEqualRounds: IntakeRound[] = [];
  const defaultRounds: IntakeRound[] = [];
  const batchOrdersPerSec: number[] = [];
  const amqpPublish: number[] = [];
  const bullmqCpu = new CpuMeter(bullmq.pid);
  const bullmqEqualCpu = new CpuMeter(bullmqEqual.pid);
  const serviceCpu = new CpuMeter(service.pid);
  const defaultCpu = new CpuMeter(serviceDefault.pid);
  for (let round = 1; round <= args.rounds; round++) {
    say(`round ${round}/${args.rounds}: amqplib ceiling`);
    const ceiling = await runScript<{ msgsPerSec: number }>(["bun", "bench/targets/amqp-ceiling.ts"], {
      AMQP_URL: env.amqpUrl,
      BENCH_QUEUE: `${env.namespace("ceiling")}:queue`,
      BENCH_SECONDS: String(args.seconds),
    });
    amqp.push(ceiling.msgsPerSec);
    say(`round ${round}/${args.rounds}: bare Hono`);
    hono.push(
      (
        await runWrk({
          url: `${bare.baseUrl}/hello`,
          method: "GET",
          connections: CONNECTIONS,
          durationSec: args.seconds,
          okStatus: 200,
        })
      ).okPerSec,
    );
    say(`round ${round}/${args.rounds}: Rascal intake`);
    rascalRounds.push(await measureIntake(orders(rascal), args.seconds));
    await (await fetch(`${rascal.baseUrl}/bench/purge`, { method: "POST" })).text();
    say(`round ${round}/${args.rounds}: BullMQ service`);
    bullmqRounds.push(await measureIntake(orders(bullmq), args.seconds, bullmqCounts(bullmq), bullmqCpu));
    say(`round ${round}/${args.rounds}: order-pipeline`);
    serviceRounds.push(await measureIntake(orders(service), args.seconds, serviceCounts(service), serviceCpu));
    say(`round ${round}/${args.rounds}: order-pipeline intake only`);
    intakeOnlyRounds.push(await measureIntake(orders(intakeOnly), args.seconds));
    await purgeIntakeQueue(env);
    say(`round ${round}/${args.rounds}: BullMQ service, equal work`);
    bullmqEqualRounds.push(
      await measureIntake(orders(bullmqEqual), args.seconds, bullmqCounts(bullmqEqual), bullmqEqualCpu),
    );
    say(`round ${round}/${args.rounds}: order-pipeline, default topology`);
    defaultRounds.push(await measureIntake(orders(serviceDefault), args.seconds, defaultCounts, defaultCpu));
    say(`round ${round}/${args.rounds}: amqplib confirmed publish, quorum queue, 64 in flight`);
    const publish = await runScript<{ msgsPerSec: number }>(["bun", "bench/targets/amqp-ceiling.ts"], {
      AMQP_URL: env.amqpUrl,
      BENCH_QUEUE: `${env.namespace("publish")}:queue`,
      BENCH_SECONDS: String(args.seconds),
      BENCH_QUORUM: "1",
      BENCH_WINDOW: "64",
      BENCH_PUBLISH_ONLY: "1",
    });
    amqpPublish.push(publish.msgsPerSec);
    say(`round ${round}/${args.rounds}: order-pipeline batch intake, ${BATCH_SIZE} orders per request`);
    batchOrdersPerSec.push(await measureBatchIntake(serviceBatch, args.seconds));
  }

  say(`order-pipeline: submit→completed latency at ${args.rate}/s for ${args.latencySeconds} s`);
  const latency = await measureCompletionLatency({
    baseUrl: service.baseUrl,
    redisUrl: env.redisUrl,
    rate: args.rate,
    seconds: args.latencySeconds,
    dir: env.dir,
    counts: serviceCounts(service),
  });
  const memory = memoryOf(service.pid);

  const med = (rounds: IntakeRound[], pick: (round: IntakeRound) => number | undefined) =>
    median(rounds.map((round) => pick(round) ?? NaN));
  const figures = {
    amqpCeilingMsgsPerSec: median(amqp),
    bareHonoReqPerSec: median(hono),
    rascalIntakeReqPerSec: med(rascalRounds, (r) => r.wrk.okPerSec),
    rascalIntakeP99Ms: med(rascalRounds, (r) => r.wrk.p99Ms),
    bullmqReqPerSec: med(bullmqRounds, (r) => r.wrk.okPerSec),
    bullmqP99Ms: med(bullmqRounds, (r) => r.wrk.p99Ms),
    bullmqEndToEndPerSec: med(bullmqRounds, (r) => r.endToEndPerSec),
    serviceReqPerSec: med(serviceRounds, (r) => r.wrk.okPerSec),
    serviceP50Ms: med(serviceRounds, (r) => r.wrk.p50Ms),
    serviceP90Ms: med(serviceRounds, (r) => r.wrk.p90Ms),
    serviceP99Ms: med(serviceRounds, (r) => r.wrk.p99Ms),
    serviceEndToEndPerSec: med(serviceRounds, (r) => r.endToEndPerSec),
    intakeOnlyReqPerSec: med(intakeOnlyRounds, (r) => r.wrk.okPerSec),
    intakeOnlyP99Ms: med(intakeOnlyRounds, (r) => r.wrk.p99Ms),
    completionP50Ms: latency.p50Ms,
    completionP99Ms: latency.p99Ms,
    servicePeakRssMb: memory.peakMb,
    bullmqCpuUsPerOrder: medianCpu(bullmqRounds.map((round) => round.cpu)),
    serviceCpuUsPerOrder: medianCpu(serviceRounds.map((round) => round.cpu)),
    bullmqEqualEndToEndPerSec: med(bullmqEqualRounds, (r) => r.endToEndPerSec),
    bullmqEqualCpuUsPerOrder: medianCpu(bullmqEqualRounds.map((round) => round.cpu)),
    defaultReqPerSec: med(defaultRounds, (r) => r.wrk.okPerSec),
    defaultEndToEndPerSec: med(defaultRounds, (r) => r.endToEndPerSec),
    defaultCpuUsPerOrder: medianCpu(defaultRounds.map((round) => round.cpu)),
    amqpPublishMsgsPerSec: median(amqpPublish),
    batchOrdersPerSec: median(batchOrdersPerSec),
  };
  const per = (rounds: IntakeRound[], pick: (round: IntakeRound) => number | undefined) => rounds.map(pick);
  const serviceRps = per(serviceRounds, (r) => r.wrk.okPerSec);
  const serviceE2e = per(serviceRounds, (r) => r.endToEndPerSec);
  const ratios = {
    intakeVsBullmq: medianRatio(
      serviceRps,
      per(bullmqRounds, (r) => r.wrk.okPerSec),
    ),
    intakeVsRascalIntake: medianRatio(
      serviceRps,
      per(rascalRounds, (r) => r.wrk.okPerSec),
    ),
    intakeVsBareHono: medianRatio(serviceRps, hono),
    intakeOnlyVsRascalIntake: medianRatio(
      per(intakeOnlyRounds, (r) => r.wrk.okPerSec),
      per(rascalRounds, (r) => r.wrk.okPerSec),
    ),
    endToEndVsBullmq: medianRatio(
      serviceE2e,
      per(bullmqRounds, (r) => r.endToEndPerSec),
    ),
    endToEndVsAmqpCeiling: medianRatio(serviceE2e, amqp),
    p99VsBullmq: medianRatio(
      per(serviceRounds, (r) => r.wrk.p99Ms),
      per(bullmqRounds, (r) => r.wrk.p99Ms),
    ),
    rascalIntakeVsBareHono: medianRatio(
      per(rascalRounds, (r) => r.wrk.okPerSec),
      hono,
    ),
    bullmqVsBareHono: medianRatio(
      per(bullmqRounds, (r) => r.wrk.okPerSec),
      hono,
    ),
    bullmqEndToEndVsAmqpCeiling: medianRatio(
      per(bullmqRounds, (r) => r.endToEndPerSec),
      amqp,
    ),
    cpuPerOrderVsBullmq: medianRatio(
      per(serviceRounds, (r) => r.cpu?.totalUs),
      per(bullmqRounds, (r) => r.cpu?.totalUs),
    ),
    defaultEndToEndVsBullmqEqualWork: medianRatio(
      per(defaultRounds, (r) => r.endToEndPerSec),
      per(bullmqEqualRounds, (r) => r.endToEndPerSec),
    ),
    defaultCpuPerOrderVsBullmqEqualWork: medianRatio(
      per(defaultRounds, (r) => r.cpu?.totalUs),
      per(bullmqEqualRounds, (r) => r.cpu?.totalUs),
    ),
    batchVsAmqpPublish: medianRatio(batchOrdersPerSec, amqpPublish),
  };

  // Every 202 is an order the broker confirmed and routed: all of them must have completed.
  const serviceNon202 =
    [...serviceRounds, ...intakeOnlyRounds].reduce((sum, r) => sum + r.wrk.other + r.wrk.errors, 0) +
    (latency.sent - (latency.statuses["202"] ?? 0));
  const allCompleted =
    serviceRounds.every((r) => r.completed !== undefined && r.completed >= r.accepted! && r.accepted! >= r.wrk.ok) &&
    latency.notCompleted === 0;
  const targetsMet = {
    leanIntakeAtLeast085xBullmq: ratios.intakeVsBullmq >= 0.85,
    leanEndToEndAtLeast085xBullmq: ratios.endToEndVsBullmq >= 0.85,
    defaultEndToEndAtLeastEqualWorkBullmq: ratios.defaultEndToEndVsBullmqEqualWork >= 1,
    intakeAtLeast3xRascal: ratios.intakeVsRascalIntake >= 3,
    intakeOnlyAtLeast3xRascal: ratios.intakeOnlyVsRascalIntake >= 3,
    batchAtLeast07xAmqpPublish: ratios.batchVsAmqpPublish >= 0.7,
    completionP99Under10Ms: figures.completionP99Ms <= 10,
    peakRssUnder150Mb: figures.servicePeakRssMb <= 150,
    every202Completed: allCompleted,
  };

  const rows: Row[] = [
    {
      group: "ceiling",
      what: "amqplib confirm publish+consume (256 in flight)",
      value: figures.amqpCeilingMsgsPerSec,
      unit: "msg/s",
    },
    { group: "ceiling", what: "bare Hono GET on Bun", value: figures.bareHonoReqPerSec, unit: "req/s" },
    {
      group: "peer",
      what: "Hono+zod+Rascal intake (1 awaited confirm/request)",
      value: figures.rascalIntakeReqPerSec,
      unit: "req/s",
      ratios: times(ratios.rascalIntakeVsBareHono, "bare Hono"),
    },
    { group: "peer", what: "  p99 latency", value: figures.rascalIntakeP99Ms, unit: "ms" },
    {
      group: "peer",
      what: "Hono+BullMQ service intake",
      value: figures.bullmqReqPerSec,
      unit: "req/s",
      ratios: times(ratios.bullmqVsBareHono, "bare Hono"),
    },
    { group: "peer", what: "  p99 latency", value: figures.bullmqP99Ms, unit: "ms" },
    {
      group: "peer",
      what: "Hono+BullMQ end to end",
      value: figures.bullmqEndToEndPerSec,
      unit: "orders/s",
      ratios: times(ratios.bullmqEndToEndVsAmqpCeiling, "amqplib"),
    },
    {
      group: "service",
      what: "intake (202s only)",
      value: figures.serviceReqPerSec,
      unit: "req/s",
      ratios: [
        times(ratios.intakeVsBullmq, "BullMQ"),
        times(ratios.intakeVsRascalIntake, "Rascal intake"),
        times(ratios.intakeVsBareHono, "bare Hono"),
      ].join(", "),
    },
    {
      group: "service",
      what: "  p50 / p90 latency",
      value: figures.serviceP50Ms,
      unit: `ms / ${figures.serviceP90Ms.toFixed(2)} ms`,
    },
    {
      group: "service",
      what: "  p99 latency",
      value: figures.serviceP99Ms,
      unit: "ms",
      ratios: times(ratios.p99VsBullmq, "BullMQ p99"),
    },
    {
      group: "service",
      what: "intake only (ROLE=api, no worker), 202s only",
      value: figures.intakeOnlyReqPerSec,
      unit: "req/s",
      ratios: times(ratios.intakeOnlyVsRascalIntake, "Rascal intake"),
    },
    { group: "service", what: "  p99 latency", value: figures.intakeOnlyP99Ms, unit: "ms" },
    {
      group: "service",
      what: "end to end (all accepted orders completed)",
      value: figures.serviceEndToEndPerSec,
      unit: "orders/s",
      ratios: [times(ratios.endToEndVsBullmq, "BullMQ"), times(ratios.endToEndVsAmqpCeiling, "amqplib")].join(", "),
    },
    { group: "service", what: `submit→completed p50 at ${args.rate}/s`, value: figures.completionP50Ms, unit: "ms" },
    { group: "service", what: `submit→completed p99 at ${args.rate}/s`, value: figures.completionP99Ms, unit: "ms" },
    { group: "service", what: "peak RSS (VmHWM)", value: figures.servicePeakRssMb, unit: "MiB" },
    {
      group: "service",
      what: `batch intake, ${BATCH_SIZE} orders per request (orders accepted)`,
      value: figures.batchOrdersPerSec,
      unit: "orders/s",
      ratios: times(ratios.batchVsAmqpPublish, "amqplib publish"),
    },
    {
      group: "ceiling",
      what: "amqplib confirmed publish, quorum queue, 64 in flight",
      value: figures.amqpPublishMsgsPerSec,
      unit: "msg/s",
    },
    {
      group: "default",
      what: "BullMQ equal work end to end (job kept, notification job)",
      value: figures.bullmqEqualEndToEndPerSec,
      unit: "orders/s",
    },
    {
      group: "default",
      what: "order-pipeline default topology end to end (notification ran)",
      value: figures.defaultEndToEndPerSec,
      unit: "orders/s",
      ratios: times(ratios.defaultEndToEndVsBullmqEqualWork, "BullMQ equal work"),
    },
    {
      group: "cpu",
      what: "BullMQ service: CPU per order, all processes",
      value: figures.bullmqCpuUsPerOrder.totalUs,
      unit: "µs",
      ratios: cpuSplit(figures.bullmqCpuUsPerOrder),
    },
    {
      group: "cpu",
      what: "order-pipeline: CPU per order, all processes",
      value: figures.serviceCpuUsPerOrder.totalUs,
      unit: "µs",
      ratios: `${times(ratios.cpuPerOrderVsBullmq, "BullMQ")}; ${cpuSplit(figures.serviceCpuUsPerOrder)}`,
    },
    {
      group: "cpu",
      what: "BullMQ equal work: CPU per order, all processes",
      value: figures.bullmqEqualCpuUsPerOrder.totalUs,
      unit: "µs",
      ratios: cpuSplit(figures.bullmqEqualCpuUsPerOrder),
    },
    {
      group: "cpu",
      what: "order-pipeline default topology: CPU per order",
      value: figures.defaultCpuUsPerOrder.totalUs,
      unit: "µs",
      ratios: [
        times(ratios.defaultCpuPerOrderVsBullmqEqualWork, "BullMQ equal work"),
        cpuSplit(figures.defaultCpuUsPerOrder),
      ].join("; "),
    },
  ];
  console.log(
    `\norder-pipeline bench — ${args.rounds} interleaved rounds of ${args.seconds} s, ${CONNECTIONS} connections, ` +
      "figures are medians, ratios medians of same-round ratios\n",
  );
  console.log(formatTable(rows));
  console.log(
    `\nnon-202 answers from the service or requests without one: ${serviceNon202}; ` +
      `every accepted order completed: ${allCompleted}`,
  );
  if (latency.failed > 0)
    console.log(`requests of the open-loop run that got no answer: ${latency.failed} (${latency.errors.join("; ")})`);
  console.log(
    `targets: ${Object.entries(targetsMet)
      .map(([name, met]) => `${name}=${met ? "met" : "MISSED"}`)
      .join(" ")}\n`,
  );
  const rounds = {
    amqp,
    hono,
    rascal: rascalRounds.map((r) => ({ reqPerSec: r.wrk.okPerSec, p99Ms: r.wrk.p99Ms, statuses: r.wrk.statuses })),
    bullmq: bullmqRounds.map((r) => ({
      reqPerSec: r.wrk.okPerSec,
      p99Ms: r.wrk.p99Ms,
      endToEndPerSec: r.endToEndPerSec,
      accepted: r.accepted,
      cpu: r.cpu,
      statuses: r.wrk.statuses,
    })),
    service: serviceRounds.map((r) => ({
      reqPerSec: r.wrk.okPerSec,
      p99Ms: r.wrk.p99Ms,
      endToEndPerSec: r.endToEndPerSec,
      accepted: r.accepted,
      completed: r.completed,
      cpu: r.cpu,
      statuses: r.wrk.statuses,
    })),
    bullmqEqual: bullmqEqualRounds.map((r) => ({ endToEndPerSec: r.endToEndPerSec, cpu: r.cpu })),
    default: defaultRounds.map((r) => ({ reqPerSec: r.wrk.okPerSec, endToEndPerSec: r.endToEndPerSec, cpu: r.cpu })),
    batchOrdersPerSec,
    amqpPublish,
    intakeOnly: intakeOnlyRounds.map((r) => ({
      reqPerSec: r.wrk.okPerSec,
      p99Ms: r.wrk.p99Ms,
      statuses: r.wrk.statuses,
    })),
  };
  console.log(JSON.stringify({ bench: "order-pipeline", figures, ratios, targets: targetsMet, latency, rounds }));
}
