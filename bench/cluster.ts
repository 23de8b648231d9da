/**
 * `bun bench/cluster.ts [--rates 250,500,1000] [--seconds 10]`: the clustered deployment of
 * docs/operations.md "Scale-out" (a 3-node RabbitMQ cluster, Redis primary + replica behind
 * 3 sentinels, 2 api + 2 worker processes) beside the single-node one (one broker node, one
 * Redis, 1 api + 1 worker), both on this machine, under the same open-loop offered load: per
 * rate, orders accepted per second and submit→completed latency. Rounds alternate between the
 * two deployments so that the shared machine's noise hits both alike. Both run the fault
 * suite's processes (the real service with the suite's order handler, no flow control).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type Redis from "ioredis";
import { Clustered } from "../test/faults/clustered";
import type { Deployment } from "../test/faults/deployment";
import { SingleNode } from "../test/faults/single-node";
import { runScript } from "./lib/process";
import { percentile } from "./lib/stats";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { rates: { type: "string", default: "250,500,1000" }, seconds: { type: "string", default: "10" } },
});
const rates = values.rates!.split(",").map(Number);
const seconds = Number(values.seconds);
const COMPLETION_TIMEOUT_MS = 60_000;

const topology = (config: Record<string, any>) => {
  config.subscriptions.process_order.handler = "record-effect";
};

interface OpenLoopOutput {
  sent: number;
  failed: number;
  statuses: Record<string, number>;
  ids: string[];
  submitted: number[];
}

interface Result {
  deployment: string;
  rate: number;
  acceptedPerSec: number;
  other: number;
  notCompleted: number;
  p50Ms: number;
  p99Ms: number;
}

/** The offered rate split evenly over the deployment's APIs, one open-loop generator each. */
async function offer(deployment: Deployment, rate: number, dir: string): Promise<OpenLoopOutput[]> {
  const urls = deployment.apiUrls();
  return Promise.all(
    urls.map(async (url, index) => {
      const out = join(dir, `open-loop-${index}.json`);
      await runScript(["bun", "bench/load/open-loop.ts"], {
        BENCH_URL: url,
        BENCH_RATE: String(rate / urls.length),
        BENCH_SECONDS: String(seconds),
        BENCH_OUT: out,
      });
      return (await Bun.file(out).json()) as OpenLoopOutput;
    }),
  );
}

/** Submit→completed of each accepted order, once all completed (or the timeout passed). */
async function completionLatencies(redis: Redis, ids: string[], submitted: number[]) {
  const deadline = Date.now() + COMPLETION_TIMEOUT_MS;
  for (;;) {
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.hmget(`order:${id}`, "status", "updatedAt");
    const replies = (await pipeline.exec()) ?? [];
    const latencies: number[] = [];
    replies.forEach(([, value], index) => {
      const [status, updatedAt] = (value ?? []) as [string | null, string | null];
      if (status === "completed" && updatedAt) latencies.push(Date.parse(updatedAt) - submitted[index]!);
    });
    if (latencies.length === ids.length || Date.now() > deadline)
      return { latencies, notCompleted: ids.length - latencies.length };
    await Bun.sleep(500);
  }
}

async function measure(name: string, deployment: Deployment, redis: Redis, rate: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), "bench-cluster-"));
  try {
    const outputs = await offer(deployment, rate, dir);
    const ids = outputs.flatMap((output) => output.ids);
    const submitted = outputs.flatMap((output) => output.submitted);
    const { latencies, notCompleted } = await completionLatencies(redis, ids, submitted);
    const other = outputs.reduce(
      (sum, output) =>
        sum +
        output.failed +
        Object.entries(output.statuses).reduce((count, [status, n]) => count + (status === "202" ? 0 : n), 0),
      0,
    );
    return {
      deployment: name,
      rate,
      acceptedPerSec: Math.round(ids.length / seconds),
      other,
      notCompleted,
      p50Ms: Math.round(percentile(latencies, 50)),
      p99Ms: Math.round(percentile(latencies, 99)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const deployments: [string, Deployment][] = [
  ["single node (1 broker, 1 Redis, 1 api + 1 worker)", new SingleNode({ topology })],
  ["clustered (3 brokers, Redis + Sentinel, 2 api + 2 worker)", new Clustered({ topology })],
];
try {
  for (const [, deployment] of deployments) await deployment.start();
  const clients = deployments.map(([, deployment]) => deployment.redisClient());
  const results: Result[] = [];
  for (const rate of rates) {
    for (const [index, [name, deployment]] of deployments.entries()) {
      const result = await measure(name, deployment, clients[index]!, rate);
      results.push(result);
      console.log(JSON.stringify(result));
    }
  }
  for (const client of clients) client.disconnect();
  console.log("\n| deployment | offered/s | 202/s | other answers | not completed | p50 ms | p99 ms |");
  console.log("|---|---|---|---|---|---|---|");
  for (const row of results)
    console.log(
      `| ${row.deployment} | ${row.rate} | ${row.acceptedPerSec} | ${row.other} | ${row.notCompleted} | ` +
        `${row.p50Ms} | ${row.p99Ms} |`,
    );
} finally {
  await Promise.allSettled(deployments.map(([, deployment]) => deployment.destroy()));
}
