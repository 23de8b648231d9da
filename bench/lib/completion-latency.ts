import { join } from "node:path";
import Redis from "ioredis";
import type { CountsReader } from "./measure-intake";
import { drain } from "./measure-intake";
import { runScript } from "./process";
import { percentile } from "./stats";

export interface CompletionLatency {
  offeredPerSec: number;
  sent: number;
  accepted: number;
  /** Requests that got no answer at all, and why (the first few distinct reasons). */
  failed: number;
  errors: string[];
  notCompleted: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  statuses: Record<string, number>;
}

interface OpenLoopOutput {
  sent: number;
  failed: number;
  errors: string[];
  statuses: Record<string, number>;
  ids: string[];
  submitted: number[];
}

/**
 * Submit→completed latency at a fixed offered rate: the open-loop generator records when each
 * accepted order was submitted; the service's own record says when it became `completed`
 * (its `updatedAt`, written by the same transition that sets the status).
 */
export async function measureCompletionLatency(options: {
  baseUrl: string;
  redisUrl: string;
  rate: number;
  seconds: number;
  dir: string;
  counts: CountsReader;
}): Promise<CompletionLatency> {
  const out = join(options.dir, `open-loop-${Date.now()}.json`);
  await runScript(["bun", "bench/load/open-loop.ts"], {
    BENCH_URL: options.baseUrl,
    BENCH_RATE: String(options.rate),
    BENCH_SECONDS: String(options.seconds),
    BENCH_OUT: out,
  });
  await drain(options.counts);
  const result = (await Bun.file(out).json()) as OpenLoopOutput;
  await Bun.file(out).delete();

  const redis = new Redis(options.redisUrl);
  const latencies: number[] = [];
  let notCompleted = 0;
  for (let start = 0; start < result.ids.length; start += 1000) {
    const batch = result.ids.slice(start, start + 1000);
    const pipeline = redis.pipeline();
    for (const id of batch) pipeline.hmget(`order:${id}`, "status", "updatedAt");
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([error, value], index) => {
      const [status, updatedAt] = (value ?? []) as [string | null, string | null];
      if (error || status !== "completed" || !updatedAt) {
        notCompleted += 1;
        return;
      }
      latencies.push(Date.parse(updatedAt) - result.submitted[start + index]!);
    });
  }
  redis.disconnect();
  return {
    offeredPerSec: options.rate,
    sent: result.sent,
    accepted: result.ids.length,
    failed: result.failed,
    errors: result.errors,
    notCompleted,
    p50Ms: percentile(latencies, 50),
    p90Ms: percentile(latencies, 90),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
    statuses: result.statuses,
  };
}
