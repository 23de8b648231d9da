import { join } from "node:path";
import amqp from "amqplib";
import { ORDER_SUBSCRIPTION } from "../../src/broker/topology";
import { BENCH_HANDLERS_DIR, type BenchEnv, type RascalConfigOptions, ROOT, shippedRascalConfig } from "./bench-env";
import type { CountsReader } from "./measure-intake";
import { freePort, startTarget, type Target } from "./process";
import { readServiceCounts } from "./service-metrics";

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

/**
 * The BullMQ peer. `equalWork`: what this service's default topology does per order — the job
 * kept 7 days as the order's record, a notification job on completion (and a callback job for
 * orders with a callbackUrl); the order counts as done when its notification ran.
 */
export function startBullmqService(env: BenchEnv, options: { equalWork?: boolean } = {}): Promise<Target> {
  const port = freePort();
  const name = options.equalWork ? "bullmq-equal-work" : "bullmq";
  return startTarget({
    name: options.equalWork ? "BullMQ service, equal work" : "BullMQ service",
    cmd: ["bun", "bench/targets/bullmq-service.ts"],
    env: {
      PORT: String(port),
      REDIS_URL: env.redisUrl,
      BENCH_PREFIX: env.namespace(name),
      ...(options.equalWork ? { BENCH_EQUAL_WORK: "1" } : {}),
    },
    port,
    logFile: join(env.dir, `${name}.log`),
  });
}

/** Namespace of the intake-only service (`role: "api"`). */
const INTAKE_ONLY = "intake";

export interface ServiceOptions {
  /**
   * `all` (default): intake and workers, like the BullMQ service. `api`: intake alone, in a
   * namespace of its own — what the Rascal intake peer does (validate, publish, await the
   * confirm), so the two compare like for like; nothing consumes its orders, and
   * `purgeIntakeQueue` empties its queue between rounds.
   */
  role?: "all" | "api";
  /**
   * A checkout of the service to run instead of this one (bench/compare.ts); rascal.json and the
   * handler stay this checkout's.
   */
  codeDir?: string;
  /** Its rascal.json's topology, handler and pipeline entries; a namespace of its own. */
  rascal?: RascalConfigOptions & { namespace: string };
}

/**
 * This service, started as `bun run start` would, with the no-op handler and its own namespace.
 * With every role but `api`, `statsUrl` answers how many orders the handler ran.
 */
export async function startOrderService(env: BenchEnv, options: ServiceOptions = {}): Promise<Target> {
  const role = options.role ?? "all";
  const namespace = options.rascal?.namespace ?? (role === "api" ? INTAKE_ONLY : "service");
  const port = freePort();
  const statsPort = role === "api" ? undefined : freePort();
  const target = await startTarget({
    name: role === "api" ? "order-pipeline intake only" : `order-pipeline ${namespace}`,
    cmd: ["bun", join(options.codeDir ?? ROOT, "src/main.ts")],
    env: {
      PORT: String(port),
      ROLE: role,
      REDIS_URL: env.redisUrl,
      RASCAL_CONFIG: env.serviceRascalConfig(namespace, options.rascal),
      HANDLERS_DIR: BENCH_HANDLERS_DIR,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info",
      ...(statsPort === undefined ? {} : { BENCH_STATS_PORT: String(statsPort) }),
    },
    port,
    readyPath: "/readyz",
    logFile: join(env.dir, `order-pipeline-${namespace}.log`),
  });
  return statsPort === undefined ? target : { ...target, statsUrl: `http://127.0.0.1:${statsPort}/` };
}

/** The queue rascal.json's order subscription consumes. */
function orderQueue(): string {
  return shippedRascalConfig().subscriptions[ORDER_SUBSCRIPTION]!.queue as string;
}

/** Empties the order queue of the intake-only service (its orders are never consumed). */
export async function purgeIntakeQueue(env: BenchEnv): Promise<void> {
  const connection = await amqp.connect(env.amqpUrl);
  try {
    const channel = await connection.createChannel();
    // Rascal names a namespaced queue `<namespace>:<queue>`.
    await channel.purgeQueue(`${env.namespace(INTAKE_ONLY)}:${orderQueue()}`);
  } finally {
    await connection.close();
  }
}

/**
 * The service counts accepted orders in /metrics; the bench handler counts the ones it ran. An
 * order is done when `doneBy` ran it: process_order (lean topology), notify_customer (default).
 */
export const serviceCounts = (target: Target, doneBy = "process_order"): CountsReader => ({
  accepted: async () => (await readServiceCounts(target.baseUrl)).accepted,
  completed: async () =>
    ((await (await fetch(target.statsUrl!)).json()) as { bySubscription: Record<string, number> }).bySubscription[
      doneBy
    ] ?? 0,
  recorded: async () => (await readServiceCounts(target.baseUrl)).completed,
});

export const bullmqCounts = (target: Target): CountsReader => {
  const stats = async () =>
    (await (await fetch(`${target.baseUrl}/stats`)).json()) as { accepted: number; completed: number };
  return { accepted: async () => (await stats()).accepted, completed: async () => (await stats()).completed };
};
