import type { Server } from "bun";
import type Redis from "ioredis";
import { Broker } from "./broker/broker";
import {
  DEAD_LETTER_SUBSCRIPTION,
  loadTopology,
  ORDER_SUBSCRIPTION,
  ORDER_TIMEOUT_SUBSCRIPTION,
  type SubscriptionPlan,
  type Topology,
  TopologyError,
} from "./broker/topology";
import type { Config } from "./config";
import { ConnectError } from "./connect-error";
import { registerAdminRoutes } from "./http/admin/admin.handlers";
import { createApp, mountDocs } from "./http/create-app";
import { registerOrderRoutes } from "./http/orders/orders.handlers";
import { DeferredWrites } from "./intake/deferred-writes";
import { OrderIntake } from "./intake/order-intake";
import { type Component, startInOrder } from "./lifecycle";
import { createLogger, type Logger, maskUrl } from "./log";
import { createMetrics, type Metrics } from "./metrics";
import { builtInHandlers } from "./runtime/builtin-handlers";
import { createCallbackHandler } from "./runtime/callbacks/deliver-callback";
import { DeadLetterRecorder } from "./runtime/dead-letter-recorder";
import { DeadLetters } from "./runtime/dead-letters";
import { loadHandlers } from "./runtime/load-handlers";
import { OrderEvents } from "./runtime/order-events";
import { expireOrder } from "./runtime/order-expiry";
import { type QueueDepthGauge, startQueueDepthGauge } from "./runtime/queue-depth-gauge";
import { Workers } from "./runtime/workers";
import { DeadLetterStore } from "./store/dead-letter-store";
import { DEFAULT_LEASE_MS, MessageLedger } from "./store/message-ledger";
import { OrderStore } from "./store/order-store";
import { RedisConnections } from "./store/redis";

export interface ServiceOptions {
  config: Config;
  /** Pre-built topology (tests); otherwise read from RASCAL_CONFIG. */
  topology?: Topology;
  /** Redis key prefix; overrides REDIS_KEY_PREFIX (tests isolate themselves with a random one). */
  keyPrefix?: string;
  /** Listen on PORT; tests may call `app.request` instead. */
  listen?: boolean;
  log?: Logger;
  /** How long a claim on a message lives without a heartbeat (default DEFAULT_LEASE_MS). */
  leaseMs?: number;
  /** How long to wait for the broker's confirm before answering 503 (default DEFAULT_CONFIRM_TIMEOUT_MS). */
  confirmTimeoutMs?: number;
  /** How often `queue_messages` is read from the broker (default 5 s). */
  queueDepthIntervalMs?: number;
}

export interface Service {
  app: ReturnType<typeof createApp>;
  server?: Server<undefined>;
  topology: Topology;
  broker: Broker;
  redis: Redis;
  metrics: Metrics;
  deadLetters: DeadLetters;
  log: Logger;
  /** Graceful stop: refuse new orders, drain handlers, close connections. */
  stop(): Promise<void>;
}

/** How long a stopping process keeps its HTTP listener open after it began refusing orders. */
const HTTP_CLOSE_GRACE_MS = 1000;

/**
 * Builds what the configured ROLE needs and starts it as an ordered list of components (see
 * lifecycle.ts): Redis, the broker, the queue-depth gauge, the workers, the intake, the HTTP
 * listener. Each one's stop undoes its start; a failed start-up stops what had started.
 */
export async function startService(options: ServiceOptions): Promise<Service> {
  const { config } = options;
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const topology = options.topology ?? loadConfiguredTopology(config);
  const runsWorkers = config.ROLE !== "api";
  const runsIntake = config.ROLE !== "worker";
  const metrics = createMetrics();
  const keyPrefix = options.keyPrefix ?? (config.REDIS_KEY_PREFIX || undefined);
  const redis = new RedisConnections({ url: config.REDIS_URL, keyPrefix, log });
  const orderStore = new OrderStore(redis.plain);
  const callbackHandler = createCallbackHandler({
    store: orderStore,
    secret: config.CALLBACK_SECRET,
    allowPrivate: config.CALLBACK_ALLOW_PRIVATE,
  });
  // Handlers are checked before any connection is made, so a bad name fails fast.
  const handlers = runsWorkers
    ? await loadHandlers(topology.handlerSubscriptions, config.HANDLERS_DIR, topology.source, {
        ...builtInHandlers,
        "deliver-callback": { default: callbackHandler },
      })
    : new Map();

  const broker = new Broker({ topology, log, confirmTimeoutMs: options.confirmTimeoutMs, metrics });
  const ledger = new MessageLedger(
    redis.pipelined,
    `${process.pid}:${Bun.randomUUIDv7()}`,
    options.leaseMs ?? DEFAULT_LEASE_MS,
  );
  const deadLetterStore = new DeadLetterStore(redis.plain);
  const plans = topology.handlerSubscriptions;
  const deadLetters = new DeadLetters({ store: deadLetterStore, ledger, publisher: broker, plans, log });
  const events = new OrderEvents({ publisher: broker, store: orderStore, log });
  const deadLetterRecorder = new DeadLetterRecorder({
    store: deadLetterStore,
    ledger,
    planForQueue: (queue) => planForQueue(broker, plans, queue),
    log,
  });
  const workers = new Workers({
    broker,
    plans,
    handlers,
    orderSubscription: ORDER_SUBSCRIPTION,
    deps: { publisher: broker, ledger, metrics, log, redis: redis.plain, events },
    internal: [
      {
        subscription: DEAD_LETTER_SUBSCRIPTION,
        handle: (message) => deadLetterRecorder.record(message),
      },
      {
        subscription: ORDER_TIMEOUT_SUBSCRIPTION,
        handle: (message, content) => expireOrder(message, content, orderStore, events, log),
      },
    ],
    log,
  });
  const deferredWrites = new DeferredWrites(log);
  const intake = new OrderIntake({
    store: new OrderStore(redis.pipelined),
    publisher: broker,
    metrics,
    log,
    deferred: deferredWrites,
  });

  let draining = false;
  const app = createApp({
    log,
    metrics,
    isDraining: () => draining,
    readiness: () => {
      const checks = { broker: broker.ready, redis: redis.ready, accepting: !draining };
      return { ready: Object.values(checks).every(Boolean), checks };
    },
  });
  if (runsIntake) {
    registerOrderRoutes(app, intake, orderStore);
    registerAdminRoutes(app, deadLetters, config.ADMIN_TOKEN);
    mountDocs(app);
  }

  let gauge: QueueDepthGauge | undefined;
  let server: Server<undefined> | undefined;
  const components: Component[] = [
    { name: "redis", start: () => redis.connect(), stop: () => redis.close() },
    {
      name: "broker",
      start: async () => {
        await broker.declare().catch((error: unknown) => {
          // Rascal's message already shows the URL with the password masked.
          if (error instanceof TopologyError) throw error;
          throw new ConnectError(`cannot connect to RabbitMQ: ${(error as Error).message}`);
        });
        logConnected({ log, broker, topology, config, runsWorkers });
        await broker.openPublisher();
      },
      stop: () => broker.close(),
    },
    {
      name: "queue depth gauge",
      start: () => {
        const intervalMs = options.queueDepthIntervalMs ?? 5000;
        gauge = startQueueDepthGauge({ broker, gauge: metrics.queueMessages, intervalMs, log });
      },
      stop: () => gauge?.stop(),
    },
  ];
  if (runsWorkers) {
    components.push({
      name: "workers",
      start: () => workers.start(),
      drain: () => workers.drain(),
      stop: () => workers.stop(config.SHUTDOWN_TIMEOUT_MS),
    });
  }
  if (runsIntake) {
    components.push({
      name: "intake",
      start: () => {},
      stop: async () => {
        if (deferredWrites.size > 0) await deferredWrites.settle(2000);
        await intake.close();
      },
    });
  }
  if (options.listen) {
    components.push({
      name: "http",
      start: () => {
        server = listen(app, config);
        log.info({ port: server.port, role: config.ROLE }, "listening");
      },
      // Keep answering for a moment (503 for orders, `Connection: close` on every answer) so
      // clients on keep-alive connections leave before the listener closes under them.
      stop: async () => {
        await Bun.sleep(Math.min(HTTP_CLOSE_GRACE_MS, config.SHUTDOWN_TIMEOUT_MS));
        await server?.stop();
      },
    });
  }

  const started = await startInOrder(components, (component, error) =>
    log.warn({ err: error, component }, "component did not stop cleanly"),
  );
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      draining = true;
      log.info("shutting down: refusing new orders, draining handlers");
      await started.stop();
      log.info("stopped");
    })());

  return { app, server, topology, broker, redis: redis.plain, metrics, deadLetters, log, stop };
}

function loadConfiguredTopology(config: Config): Topology {
  return loadTopology({
    path: config.RASCAL_CONFIG,
    amqpUrlOverride: config.amqpUrlOverride ? config.amqpUrl : undefined,
    defaultAmqpUrl: config.amqpUrl,
    orderTimeoutMs: config.ORDER_TIMEOUT_MS,
  });
}

/** Bun.serve on PORT; a port in use is named in one line instead of Bun's stack. */
function listen(app: ReturnType<typeof createApp>, config: Config): Server<undefined> {
  try {
    return Bun.serve({ port: config.PORT, fetch: app.fetch, maxRequestBodySize: 1024 * 1024 });
  } catch (error) {
    if ((error as { code?: string }).code === "EADDRINUSE") {
      throw new ConnectError(`PORT ${config.PORT} is already in use by another process`);
    }
    throw error;
  }
}

/** The start-up lines: which broker (as Rascal resolved it), Redis and role; each subscription. */
function logConnected(options: {
  log: Logger;
  broker: Broker;
  topology: Topology;
  config: Config;
  runsWorkers: boolean;
}): void {
  const { log, broker, topology, config } = options;
  const amqp = broker.urls(topology.orderVhost).map(maskUrl).join(", ");
  log.info({ topology: topology.source, amqp, redis: maskUrl(config.REDIS_URL), role: config.ROLE }, "connected");
  if (!options.runsWorkers) return;
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

/** Maps a queue name as the broker knows it (Rascal may namespace it) back to its subscription. */
function planForQueue(broker: Broker, plans: readonly SubscriptionPlan[], queue: string): SubscriptionPlan | undefined {
  const queues = broker.config.vhosts;
  return plans.find((plan) => (queues[plan.vhost]?.queues?.[plan.queue]?.fullyQualifiedName ?? plan.queue) === queue);
}
