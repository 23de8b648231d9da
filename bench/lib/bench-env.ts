import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import amqp from "amqplib";
import Redis from "ioredis";
import { loadTopology } from "../../src/broker/topology";

/**
 * One bench run's isolation: a namespace for every queue and exchange, a Redis database of
 * its own (checked empty before, flushed after), and a scratch directory under .bench/.
 */
export interface BenchEnv {
  id: string;
  amqpUrl: string;
  redisUrl: string;
  dir: string;
  /** Namespace for one target's queues and exchanges. */
  namespace(target: string): string;
  /** rascal.json with its own namespace and the no-op handler on process_order. */
  serviceRascalConfig(target: string, options?: RascalConfigOptions): string;
  /** Deletes the namespaces and the Redis database; the scratch directory (targets' logs) too unless `keepLogs`. */
  cleanup(options?: { keepLogs?: boolean }): Promise<void>;
}

export interface RascalConfigOptions {
  /** The order subscription's handler in bench/handlers (default `bench-noop`). */
  handler?: string;
  /**
   * `lean` (default): the order pipeline alone, like the peers. `default`: the shipped rascal.json
   * as it is — every completion also delivered to notify_customer (the bench's no-op handler),
   * callbacks routed for orders that have a callbackUrl (the bench's have none).
   */
  topology?: "lean" | "default";
  /** Entries merged into rascal.json's `pipeline` (timeouts, concurrency, rate limits). */
  pipeline?: Record<string, unknown>;
}

export const ROOT = new URL("../..", import.meta.url).pathname;
export const BENCH_HANDLERS_DIR = join(ROOT, "bench/handlers");

/** The shipped rascal.json, parsed: the bench's services run it, each in a namespace of its own. */
export function shippedRascalConfig(): {
  vhosts: Record<string, Record<string, unknown>>;
  subscriptions: Record<string, Record<string, unknown>>;
} {
  return JSON.parse(readFileSync(join(ROOT, "rascal.json"), "utf8"));
}

export async function createBenchEnv(): Promise<BenchEnv> {
  const id = Bun.randomUUIDv7().slice(-8);
  const amqpUrl = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
  const baseRedis = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const db = Number(process.env.BENCH_REDIS_DB ?? 13);
  const redisUrl = `${baseRedis.replace(/\/\d*$/, "")}/${db}`;
  const dir = join(ROOT, ".bench", id);
  mkdirSync(dir, { recursive: true });

  const redis = new Redis(redisUrl);
  const size = await redis.dbsize();
  if (size > 0) {
    redis.disconnect();
    throw new Error(
      `Redis database ${db} is not empty (${size} keys): the bench needs one of its own; set BENCH_REDIS_DB`,
    );
  }
  const rascalConfigs: string[] = [];

  return {
    id,
    amqpUrl,
    redisUrl,
    dir,
    namespace: (target) => `bench-${id}-${target}`,
    serviceRascalConfig(target, options = {}) {
      const config = shippedRascalConfig();
      for (const vhost of Object.values(config.vhosts)) vhost.namespace = `bench-${id}-${target}`;
      config.subscriptions.process_order!.handler = options.handler ?? "bench-noop";
      if (options.topology === "default") config.subscriptions.notify_customer!.handler = "bench-noop";
      else leanTopology(config);
      Object.assign(((config as { pipeline?: Record<string, unknown> }).pipeline ??= {}), options.pipeline);
      const path = join(dir, `rascal-${target}.json`);
      writeFileSync(path, JSON.stringify(config, null, 2));
      rascalConfigs.push(path);
      return path;
    },
    async cleanup(options = {}) {
      // Every queue and exchange the namespaced topology declares, deleted by name: not through
      // Rascal, which declares before it deletes and would fail on a queue another version of
      // the service (bench/compare.ts) declared with other arguments.
      for (const path of rascalConfigs) {
        const topology = loadTopology({ path, defaultAmqpUrl: amqpUrl, amqpUrlOverride: process.env.AMQP_URL });
        await deleteNamespaced(amqpUrl, topology.rascal.vhosts);
      }
      await redis.flushdb();
      redis.disconnect();
      // The service logs a line per request and per message: hundreds of MB per run.
      if (!options.keepLogs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Like the peers, the order pipeline alone: the default rascal.json also routes every
 * order.completed event into notify_customer and has a deliver_callback subscription; their
 * queues, bindings, publication and ladders go (left without consumers they would only pile the
 * events up). The runtime still publishes (and the broker confirms) each completion event.
 */
function leanTopology(config: ReturnType<typeof shippedRascalConfig>): void {
  delete config.subscriptions.notify_customer;
  delete config.subscriptions.deliver_callback;
  delete (config as { publications?: Record<string, unknown> }).publications?.order_callback;
  for (const vhost of Object.values(config.vhosts) as {
    queues?: Record<string, unknown>;
    bindings?: Record<string, unknown>;
  }[]) {
    for (const queue of ["events.notify_customer", "events.deliver_callback"]) delete vhost.queues?.[queue];
    for (const binding of Object.keys(vhost.bindings ?? {}))
      if (/-> events\.(notify_customer|deliver_callback)$/.test(binding)) delete vhost.bindings![binding];
  }
  const retries = (config as { pipeline?: { retries?: Record<string, unknown> } }).pipeline?.retries;
  if (retries) {
    delete retries.notify_customer;
    delete retries.deliver_callback;
  }
}

/** Deletes the queues and exchanges of namespaced vhosts (`<namespace>:<name>`), each on its own channel. */
async function deleteNamespaced(url: string, vhosts: Record<string, Record<string, unknown>>): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    for (const vhost of Object.values(vhosts)) {
      const namespace = vhost.namespace;
      if (typeof namespace !== "string") continue;
      const names = (kind: "queues" | "exchanges") => Object.keys((vhost[kind] ?? {}) as Record<string, unknown>);
      for (const [kind, names_] of [
        ["queue", names("queues")],
        ["exchange", names("exchanges")],
      ] as const) {
        for (const name of names_) {
          const channel = await connection.createChannel();
          channel.on("error", () => {});
          const fullName = `${namespace}:${name}`;
          await (kind === "queue" ? channel.deleteQueue(fullName) : channel.deleteExchange(fullName)).catch(() => {});
          await channel.close().catch(() => {});
        }
      }
    }
  } finally {
    await connection.close();
  }
}
