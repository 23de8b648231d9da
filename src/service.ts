import type { Server } from "bun";
import type Redis from "ioredis";
import { connectBroker, type BrokerHandle } from "./broker/broker";
import { Publisher } from "./broker/publisher";
import { watchQueueDepths } from "./broker/queue-depth";
import { resolvedConfig, vhostUrls } from "./broker/resolved-config";
import {
  DEAD_LETTER_SUBSCRIPTION,
  loadTopology,
  TopologyError,
  ORDER_SUBSCRIPTION,
  ORDER_TIMEOUT_SUBSCRIPTION,
  type SubscriptionPlan,
  type Topology,
} from "./broker/topology";
import type { Config } from "./config";
import { ConnectError } from "./connect-error";
import { createApp, mountDocs } from "./http/create-app";
import { registerOrderRoutes } from "./http/orders/orders.handlers";
import { registerAdminRoutes } from "./http/admin/admin.handlers";
import { DeferredWrites } from "./intake/deferred-writes";
import { OrderIntake } from "./intake/order-intake";
import { createLogger, maskUrl, type Logger } from "./log";
import { createMetrics, type Metrics } from "./metrics";
import { DeadLetterRecorder } from "./runtime/dead-letter-recorder";
import { DeadLetters } from "./runtime/dead-letters";
import { builtInHandlers } from "./runtime/builtin-handlers";
import { createCallbackHandler } from "./runtime/callbacks/deliver-callback";
import { loadHandlers } from "./runtime/load-handlers";
import { OrderEvents } from "./runtime/order-events";
import { expireOrder } from "./runtime/order-expiry";
import { sleep } from "./runtime/backoff";
import { Workers } from "./runtime/workers";
import { DeadLetterStore } from "./store/dead-letter-store";
import { MessageLedger } from "./store/message-ledger";
import { OrderStore } from "./store/order-store";
import { createRedis, isRedisReady } from "./store/redis";

export interface ServiceOptions {
  config: Config;
  /** Pre-built topology (tests); otherwise read from RASCAL_CONFIG. */
  topology?: Topology;
  /** Redis key prefix; overrides REDIS_KEY_PREFIX (tests isolate themselves with a random one). */
  keyPrefix?: string;
  /** Listen on PORT; tests may call `app.request` instead. */
  listen?: boolean;
  log?: Logger;
  /** How long a claim on a message lives without a heartbeat. */
  leaseMs?: number;
  /** How long to wait for the broker's confirm before answering 503. */
  confirmTimeoutMs?: number;
  /** How often `queue_messages` is read from the broker (default 5 s). */
  queueDepthIntervalMs?: number;
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

/** How long a stopping process keeps its HTTP listener open after it began refusing orders. */
const HTTP_CLOSE_GRACE_MS = 1000;

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
      orderTimeoutMs: config.ORDER_TIMEOUT_MS,
    });
  const runsWorkers = config.ROLE !== "api";
  const runsIntake = config.ROLE !== "worker";
  const metrics = createMetrics();
  const redis = createRedis({
    url: config.REDIS_URL,
    keyPrefix: options.keyPrefix ?? (config.REDIS_KEY_PREFIX || undefined),
  });
  const orderStore = new OrderStore(redis);
  const runtimeHandlers = {
    "deliver-callback": {
      default: createCallbackHandler({
        store: orderStore,
        secret: config.CALLBACK_SECRET,
        allowPrivate: config.CALLBACK_ALLOW_PRIVATE,
      }),
    },
  };
  // Handlers are checked before any connection is made, so a bad name fails fast.
  const handlers = runsWorkers
    ? await loadHandlers(topology.handlerSubscriptions, config.HANDLERS_DIR, topology.source, {
        ...builtInHandlers,
        ...runtimeHandlers,
      })
    : new Map();

  // What start-up has opened so far, closed in reverse order when a later step fails.
  const opened: (() => unknown)[] = [];
  const abandonStartup = async (error: unknown): Promise<never> => {
    for (const close of opened.reverse())
      await Promise.resolve()
        .then(close)
        .catch(() => {});
    throw error;
  };

  let lastRedisError: string | undefined;
  redis.on("error", (error: Error) => {
    lastRedisError = error.message;
    log.warn({ err: error.message }, "redis error");
  });
  opened.push(() => redis.disconnect());
  // The per-order scripts (intake's order record, workers' claim and finish) share a connection
  // with auto-pipelining: the scripts of all orders handled in one turn of the event loop go to
  // Redis in one write instead of one each. Kept apart from `redis` because ioredis'
  // auto-pipelining does not mix with the MULTI that order reads use.
  const pipelinedRedis = redis.duplicate({ enableAutoPipelining: true });
  pipelinedRedis.on("error", (error: Error) => {
    lastRedisError = error.message;
    log.warn({ err: error.message }, "redis error (pipelined)");
  });
  opened.push(() => pipelinedRedis.disconnect());
  try {
    await redis.connect();
    await pipelinedRedis.connect();
  } catch (error) {
    // ioredis rejects with "Connection is closed."; the reason came as an 'error' event.
    await abandonStartup(
      new ConnectError(
        `cannot connect to Redis at ${maskUrl(config.REDIS_URL)}: ${lastRedisError ?? (error as Error).message}`,
      ),
    );
  }

  let broker!: BrokerHandle;
  try {
    broker = await connectBroker(topology, log);
  } catch (error) {
    // Rascal's message already shows the URL with the password masked.
    await abandonStartup(
      error instanceof TopologyError
        ? error
        : new ConnectError(`cannot connect to RabbitMQ: ${(error as Error).message}`),
    );
  }
  opened.push(() => broker.broker.shutdown());
  // The broker as Rascal resolved it: AMQP_URL, or rascal.json's own connection(s) without it.
  const amqp = vhostUrls(resolvedConfig(broker.broker), topology.orderVhost).map(maskUrl).join(", ");
  log.info({ topology: topology.source, amqp, redis: maskUrl(config.REDIS_URL), role: config.ROLE }, "connected");
  if (runsWorkers) {
    for (const plan of topology.handlerSubscriptions) {
      log.info(
        {
          subscription: plan.name,
          handler: plan.handler,
          queue: plan.queue,
          retryDelaysMs: plan.retry.delays,
          maxAttempts: plan.retry.maxAttempts,
        },
        "subscription ready (`order-pipeline topology print` shows the full expanded topology)",
      );
    }
  }

  const queueDepths = watchQueueDepths({
    broker: broker.broker,
    gauge: metrics.queueMessages,
    intervalMs: options.queueDepthIntervalMs ?? 5000,
    log,
  });
  opened.push(() => queueDepths.stop());
  const publisher = new Publisher(broker.broker, broker.health, options.confirmTimeoutMs ?? 5000, log, metrics);
  await publisher.start().catch(abandonStartup);
  const ledger = new MessageLedger(pipelinedRedis, `${process.pid}:${Bun.randomUUIDv7()}`, options.leaseMs ?? 30_000);
  const deadLetterStore = new DeadLetterStore(redis);
  const plans = new Map<string, SubscriptionPlan>(topology.handlerSubscriptions.map((plan) => [plan.name, plan]));
  const deadLetters = new DeadLetters(deadLetterStore, ledger, publisher, plans, ORDER_SUBSCRIPTION, log);

  let workers: Workers | undefined;
  if (runsWorkers) {
    const queueNames = queueNameResolver(broker, topology);
    const recorder = new DeadLetterRecorder(deadLetterStore, ledger, queueNames, ORDER_SUBSCRIPTION, log);
    const events = new OrderEvents(publisher, new Set(Object.keys(topology.rascal.publications)), orderStore, log);
    workers = new Workers(
      broker.broker,
      topology.handlerSubscriptions,
      handlers,
      ORDER_SUBSCRIPTION,
      { publisher, ledger, metrics, log, redis, events },
      [
        { subscription: DEAD_LETTER_SUBSCRIPTION, handle: (message) => recorder.record(message) },
        {
          subscription: ORDER_TIMEOUT_SUBSCRIPTION,
          handle: (message, content) => expireOrder(message, content, orderStore, events, log),
        },
      ],
      log,
    );
    const started = workers;
    opened.push(() => started.stop(0));
    await workers.start().catch(abandonStartup);
  }

  let draining = false;
  const deferredWrites = new DeferredWrites(log);
  const app = createApp({
    log,
    metrics,
    isDraining: () => draining,
    readiness: () => {
      const checks = {
        broker: broker.health.connected && !broker.health.blocked && publisher.ready && (workers?.ready ?? true),
        redis: isRedisReady(redis) && isRedisReady(pipelinedRedis),
        accepting: !draining,
      };
      return { ready: Object.values(checks).every(Boolean), checks };
    },
  });
  let intake: OrderIntake | undefined;
  if (runsIntake) {
    intake = new OrderIntake(new OrderStore(pipelinedRedis), publisher, metrics, log, deferredWrites);
    registerOrderRoutes(app, intake, orderStore);
    registerAdminRoutes(app, deadLetters, config.ADMIN_TOKEN);
    mountDocs(app);
  }

  let server: ReturnType<typeof Bun.serve> | undefined;
  try {
    server = options.listen
      ? Bun.serve({ port: config.PORT, fetch: app.fetch, maxRequestBodySize: 1024 * 1024 })
      : undefined;
  } catch (error) {
    const inUse = (error as { code?: string }).code === "EADDRINUSE";
    await abandonStartup(inUse ? new ConnectError(`PORT ${config.PORT} is already in use by another process`) : error);
  }
  if (server) log.info({ port: server.port, role: config.ROLE }, "listening");

  let stopping: Promise<void> | undefined;
  const stop = (stopOptions: { deleteTopology?: boolean } = {}) =>
    (stopping ??= (async () => {
      draining = true;
      log.info("shutting down: refusing new orders, draining handlers");
      // Keep answering for a moment (503 for orders, `Connection: close` on every answer) so
      // clients on keep-alive connections leave before the listener closes under them.
      const closeGraceMs = server ? Math.min(HTTP_CLOSE_GRACE_MS, config.SHUTDOWN_TIMEOUT_MS) : 0;
      await Promise.all([workers?.stop(config.SHUTDOWN_TIMEOUT_MS), sleep(closeGraceMs)]);
      await server?.stop();
      if (deferredWrites.size > 0) await deferredWrites.settle(2000);
      await intake?.close();
      await queueDepths.stop();
      await publisher.close();
      const closeBroker = stopOptions.deleteTopology ? broker.broker.nuke() : broker.broker.shutdown();
      await closeBroker.catch((error: unknown) => log.warn({ err: error }, "broker shutdown"));
      // Unfinished messages are back in their queues now; let other workers start them at once.
      const released = await ledger.releaseHeld().catch(() => 0);
      if (released > 0) log.info({ released }, "released the claims of unfinished handlers");
      await closeRedis(pipelinedRedis);
      await closeRedis(redis);
      log.info("stopped");
    })());

  return { app, server, topology, broker, redis, metrics, deadLetters, log, stop };
}

/** QUIT, or a hard disconnect when Redis does not answer within a second (it may be gone). */
async function closeRedis(client: Redis): Promise<void> {
  await Promise.race([client.quit().catch(() => undefined), sleep(1000)]);
  client.disconnect();
}

/** Maps a queue name as the broker knows it (Rascal may namespace it) back to its subscription. */
function queueNameResolver(broker: BrokerHandle, topology: Topology): (name: string) => SubscriptionPlan | undefined {
  const rascalConfig = resolvedConfig(broker.broker);
  const byName = new Map<string, SubscriptionPlan>();
  for (const plan of topology.handlerSubscriptions) {
    const fullName = rascalConfig.vhosts[plan.vhost]?.queues?.[plan.queue]?.fullyQualifiedName ?? plan.queue;
    byName.set(fullName, plan);
  }
  return (name) => byName.get(name);
}
