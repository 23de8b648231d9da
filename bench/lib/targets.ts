import { join } from "node:path";
import { BENCH_HANDLERS_DIR, type BenchEnv } from "./bench-env";
import { freePort, startTarget, type Target } from "./process";
import { readServiceCounts } from "./service-metrics";
import type { CountsReader } from "./measure-intake";

/** How each measured target is started, each as its own process in its own namespace. */

export function startBareHono(env: BenchEnv): Promise<Target> {
  const port = freePort();
  return startTarget({
    name: "bare Hono",
    cmd: ["bun", "bench/targets/bare-hono.ts"],
    env: { PORT: String(port) },
    port,
    logFile: join(env.dir, "bare-hono.log"),
  });
}

export function startRascalIntake(env: BenchEnv): Promise<Target> {
  const port = freePort();
  return startTarget({
    name: "Rascal intake",
    cmd: ["bun", "bench/targets/rascal-intake.ts"],
    env: { PORT: String(port), AMQP_URL: env.amqpUrl, BENCH_NAMESPACE: env.namespace("rascal") },
    port,
    logFile: join(env.dir, "rascal-intake.log"),
  });
}

export function startBullmqService(env: BenchEnv): Promise<Target> {
  const port = freePort();
  return startTarget({
    name: "BullMQ service",
    cmd: ["bun", "bench/targets/bullmq-service.ts"],
    env: { PORT: String(port), REDIS_URL: env.redisUrl, BENCH_PREFIX: env.namespace("bullmq") },
    port,
    logFile: join(env.dir, "bullmq-service.log"),
  });
}

/** This service, started as `bun run start` would, with the no-op handler and its own namespace. */
export async function startOrderService(env: BenchEnv): Promise<Target> {
  const port = freePort();
  const statsPort = freePort();
  const target = await startTarget({
    name: "order-pipeline",
    cmd: ["bun", "src/main.ts"],
    env: {
      PORT: String(port),
      REDIS_URL: env.redisUrl,
      RASCAL_CONFIG: env.serviceRascalConfig("service"),
      HANDLERS_DIR: BENCH_HANDLERS_DIR,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
      BENCH_STATS_PORT: String(statsPort),
    },
    port,
    readyPath: "/readyz",
    logFile: join(env.dir, "order-pipeline.log"),
  });
  return { ...target, statsUrl: `http://127.0.0.1:${statsPort}/` };
}

/** The service counts accepted orders in /metrics; the bench handler counts the ones it ran. */
export const serviceCounts = (target: Target): CountsReader => ({
  accepted: async () => (await readServiceCounts(target.baseUrl)).accepted,
  completed: async () => ((await (await fetch(target.statsUrl!)).json()) as { handled: number }).handled,
  recorded: async () => (await readServiceCounts(target.baseUrl)).completed,
});

export const bullmqCounts = (target: Target): CountsReader => {
  const stats = async () => (await (await fetch(`${target.baseUrl}/stats`)).json()) as { accepted: number; completed: number };
  return { accepted: async () => (await stats()).accepted, completed: async () => (await stats()).completed };
};
