import type { Server } from "bun";
import type Redis from "ioredis";
import { connectBroker, type BrokerHandle } from "./broker/broker";
import { Publisher } from "./broker/publisher";
import {
  DEAD_LETTER_SUBSCRIPTION,
  loadTopology,
  ORDER_SUBSCRIPTION,
  ORDER_TIMEOUT_SUBSCRIPTION,
  type SubscriptionPlan,
  type Topology,
} from "./broker/topology";
import type { Config } from "./config";
import { createApp, mountDocs } from "./http/create-app";
import { registerOrderRoutes } from "./http/orders/orders.handlers";
import { registerAdminRoutes } from "./http/admin/admin.handlers";
import { OrderIntake } from "./intake/order-intake";
import { createLogger, maskUrl, type Logger } from "./log";
import { createMetrics, type Metrics } from "./metrics";
import { DeadLetterRecorder } from "./runtime/dead-letter-recorder";
import { DeadLetters } from "./runtime/dead-letters";
import { loadHandlers } from "./runtime/load-handlers";
import { expireOrder } from "./runtime/order-expiry";
import { Workers } from "./runtime/workers";
import { DeadLetterStore } from "./store/dead-letter-store";
import { MessageLedger } from "./store/message-ledger";
import { OrderStore } from "./store/order-store";
import { createRedis, isRedisReady } from "./store/redis";

export interface ServiceOptions {
  config: Config;
  /** Pre-built topology (tests); otherwise read from RASCAL_CONFIG. */
  topology?: Topology;
  /** Redis key prefix (tests isolate themselves with a random one). */
  keyPrefix?: string;
  /** Listen on PORT; tests may call `app.request` instead. */
  listen?: boolean;
  log?: Logger;
  /** How long a claim on a message lives without a heartbeat. */
  leaseMs?: number;
  /** How long to wait for the broker's confirm before answering 503. */
  confirmTimeoutMs?: number;
}

export interface Service {
  app: ReturnType<typeof createApp>;
  server?: Server<undefined>;
  topology: Topology;
  broker: BrokerHandle;
  redis: Redis;
  metrics: Metrics;
  deadLetters: DeadLetters;
  log: Logger;
  /**
   * Graceful stop: refuse new orders, drain handlers, close connections. `deleteTopology`
   * also deletes every queue and exchange (tests, which run in their own namespace).
   */
  stop(options?: { deleteTopology?: boolean }): Promise<void>;
}

/** Builds and starts everything the configured ROLE needs. */
export async function startService(options: ServiceOptions): Promise<Service> {
  const { config } = options;
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const topology =
    options.topology ??
    loadTopology({
      path: config.RASCAL_CONFIG,
      amqpUrlOverride: config.amqpUrlOverride ? config.amqpUrl : undefined,
      defaultAmqpUrl: config.amqpUrl,
    });
  const runsWorkers = config.ROLE !== "api";
  const runsIntake = config.ROLE !== "worker";
  // Handlers are checked before any connection is made, so a bad name fails fast.
  const handlers = runsWorkers ? await loadHandlers(topology.handlerSubscriptions, config.HANDLERS_DIR, topology.source) : new Map();

  const metrics = createMetrics();
  const redis = createRedis({ url: config.REDIS_URL, keyPrefix: options.keyPrefix });
  redis.on("error", (error: Error) => log.warn({ err: error.message }, "redis error"));
  await redis.connect();
  let broker: BrokerHandle;
  try {
    broker = await connectBroker(topology, log);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  log.info({ topology: topology.source, amqp: maskUrl(config.amqpUrl), redis: maskUrl(config.REDIS_URL), role: config.ROLE }, "connected");

  const publisher = new Publisher(broker.broker, broker.health, options.confirmTimeoutMs ?? 5000, log);
  try {
    await publisher.start();
  } catch (error) {
    await broker.broker.shutdown().catch(() => {});
    redis.disconnect();
    throw error;
  }
  // The per-order scripts (intake's order record, workers' claim and finish) share a connection
  // with auto-pipelining: the scripts of all orders handled in one turn of the event loop go to
  // Redis in one write instead of one each. Kept apart from `redis` because ioredis'
  // auto-pipelining does not mix with the MULTI that order reads use.
  const pipelinedRedis = redis.duplicate({ enableAutoPipelining: true });
  pipelinedRedis.on("error", (error: Error) => log.warn({ err: error.message }, "redis error (pipelined)"));
  try {
    await pipelinedRedis.connect();
  } catch (error) {
    await publisher.close();
    await broker.broker.shutdown().catch(() => {});
    redis.disconnect();
    pipelinedRedis.disconnect();
    throw error;
  }
  const orderStore = new OrderStore(redis);
  const ledger = new MessageLedger(pipelinedRedis, `${process.pid}:${Bun.randomUUIDv7()}`, options.leaseMs ?? 30_000);
  const deadLetterStore = new DeadLetterStore(redis);
  const plans = new Map<string, SubscriptionPlan>(topology.handlerSubscriptions.map((plan) => [plan.name, plan]));
  const deadLetters = new DeadLetters(deadLetterStore, ledger, publisher, plans, ORDER_SUBSCRIPTION, log);

  let workers: Workers | undefined;
  if (runsWorkers) {
    const queueNames = queueNameResolver(broker, topology);
    const recorder = new DeadLetterRecorder(deadLetterStore, ledger, queueNames, ORDER_SUBSCRIPTION, log);
    const hasDeadLetteredEvent = "order_dead_lettered" in topology.rascal.publications;
    workers = new Workers(
      broker.broker,
      topology.handlerSubscriptions,
      handlers,
      ORDER_SUBSCRIPTION,
      {
        publisher,
        ledger,
        metrics,
        log,
        redis,
        onOrderDeadLettered: hasDeadLetteredEvent
          ? (orderId, headers) => publisher.publish("order_dead_lettered", { orderId }, { messageId: `${orderId}:dead_lettered`, headers })
          : undefined,
      },
      [
        { subscription: DEAD_LETTER_SUBSCRIPTION, handle: (message) => recorder.record(message) },
        { subscription: ORDER_TIMEOUT_SUBSCRIPTION, handle: (message, content) => expireOrder(message, content, orderStore, log) },
      ],
      log,
    );
    await workers.start(config.SHUTDOWN_TIMEOUT_MS);
  }

  let draining = false;
  const app = createApp({
    log,
    metrics,
    isDraining: () => draining,
    readiness: () => {
      const checks = {
        broker: broker.health.connected && !broker.health.blocked,
        redis: isRedisReady(redis) && isRedisReady(pipelinedRedis),
        accepting: !draining,
      };
      return { ready: Object.values(checks).every(Boolean), checks };
    },
  });
  if (runsIntake) {
    const intake = new OrderIntake(new OrderStore(pipelinedRedis), publisher, metrics, log, config.ORDER_TIMEOUT_MS);
    registerOrderRoutes(app, intake, orderStore);
    registerAdminRoutes(app, deadLetters, config.ADMIN_TOKEN);
    mountDocs(app);
  }

  const server = options.listen
    ? Bun.serve({ port: config.PORT, fetch: app.fetch, maxRequestBodySize: 1024 * 1024 })
    : undefined;
  if (server) log.info({ port: server.port, role: config.ROLE }, "listening");

  let stopping: Promise<void> | undefined;
  const stop = (stopOptions: { deleteTopology?: boolean } = {}) =>
    (stopping ??= (async () => {
      draining = true;
      log.info("shutting down: refusing new orders, draining handlers");
      await workers?.stop(config.SHUTDOWN_TIMEOUT_MS);
      await server?.stop();
      await publisher.close();
      const closeBroker = stopOptions.deleteTopology ? broker.broker.nuke() : broker.broker.shutdown();
      await closeBroker.catch((error: unknown) => log.warn({ err: error }, "broker shutdown"));
      await pipelinedRedis.quit().catch(() => pipelinedRedis.disconnect());
      await redis.quit().catch(() => redis.disconnect());
      log.info("stopped");
    })());

  return { app, server, topology, broker, redis, metrics, deadLetters, log, stop };
}

/** Maps a queue name as the broker knows it (Rascal may namespace it) back to its subscription. */
function queueNameResolver(broker: BrokerHandle, topology: Topology): (name: string) => SubscriptionPlan | undefined {
  const rascalConfig = (broker.broker as unknown as { config: { vhosts: Record<string, { queues: Record<string, { fullyQualifiedName: string }> }> } }).config;
  const byName = new Map<string, SubscriptionPlan>();
  for (const plan of topology.handlerSubscriptions) {
    const fullName = rascalConfig.vhosts[plan.vhost]?.queues[plan.queue]?.fullyQualifiedName ?? plan.queue;
    byName.set(fullName, plan);
  }
  return (name) => byName.get(name);
}
