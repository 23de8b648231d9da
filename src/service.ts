import type { Server } from "bun";
import { Broker } from "./broker/broker";
import {
  DEAD_LETTER_SUBSCRIPTION,
  loadTopology,
  ORDER_SUBSCRIPTION,
  ORDER_TIMEOUT_SUBSCRIPTION,
  type SubscriptionPlan,
  type Topology,
} from "./broker/topology";
import {
  activityReporterComponent,
  brokerComponent,
  cancelSignalsComponent,
  httpComponent,
  intakeComponent,
  queueDepthComponent,
  redisComponent,
  workersComponent,
} from "./components";
import type { Config } from "./config";
import type { Handler } from "./handler";
import { registerAdminRoutes } from "./http/admin/admin.handlers";
import { registerConsoleRoutes } from "./http/console/console.routes";
import { createApp, mountDocs } from "./http/create-app";
import { registerOrderRoutes } from "./http/orders/orders.handlers";
import { DeferredWrites } from "./intake/deferred-writes";
import { OrderCancellation } from "./intake/order-cancellation";
import { OrderIntake } from "./intake/order-intake";
import { type Component, startInOrder } from "./lifecycle";
import { createLogger, type Logger } from "./log";
import { createMetrics, type Metrics } from "./metrics";
import { ActivityReporter } from "./runtime/activity-reporter";
import { builtInHandlers } from "./runtime/builtin-handlers";
import { createCallbackHandler } from "./runtime/callbacks/deliver-callback";
import { CancelSignals, cancelChannel } from "./runtime/cancel-signals";
import { DeadLetterRecorder } from "./runtime/dead-letter-recorder";
import { DeadLetters } from "./runtime/dead-letters";
import { loadHandlers } from "./runtime/load-handlers";
import { OrderEvents } from "./runtime/order-events";
import { expireOrder } from "./runtime/order-expiry";
import { readQueues } from "./runtime/queue-overview";
import { Workers } from "./runtime/workers";
import { ActivityStore } from "./store/activity";
import { ConcurrencySlots } from "./store/concurrency-slots";
import { DeadLetterStore } from "./store/dead-letter-store";
import { DEFAULT_LEASE_MS, MessageLedger } from "./store/message-ledger";
import { OrderListing } from "./store/order-listing";
import { OrderStore } from "./store/order-store";
import { RateLimiter } from "./store/rate-limiter";
import type { RedisClient } from "./store/redis";
import { RedisConnections, redisTarget } from "./store/redis";
import { ReplicationBarrier, replicatedConnections } from "./store/replication-barrier";

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
  redis: RedisClient;
  metrics: Metrics;
  deadLetters: DeadLetters;
  log: Logger;
  /** Graceful stop: refuse new orders, drain handlers, close connections. */
  stop(): Promise<void>;
}

/** How long /readyz waits for the broker and Redis to answer before it says not ready. */
const READINESS_DEADLINE_MS = 1500;

/**
 * Builds what the configured ROLE needs and starts it as an ordered list of components (see
 * lifecycle.ts and components.ts): Redis, the broker, the queue-depth gauge, the workers, the
 * intake, the HTTP listener. Each one's stop undoes its start; a failed start-up stops what
 * had started.
 */
export async function startService(options: ServiceOptions): Promise<Service> {
  const { config } = options;
  const log = options.log ?? createLogger(config.LOG_LEVEL);
  const topology = options.topology ?? loadConfiguredTopology(config);
  const runsWorkers = config.ROLE !== "api";
  const runsIntake = config.ROLE !== "worker";
  // Read at scrape time, when the broker, Redis and `draining` below exist.
  const metrics = createMetrics({ isReady: () => broker.ready && redis.ready && !draining });
  const keyPrefix = options.keyPrefix ?? (config.REDIS_KEY_PREFIX || undefined);
  const redis = new RedisConnections({ ...redisTarget(config), keyPrefix, log });
  const orderStore = new OrderStore(redis.plain);
  // Handlers are checked before any connection is made, so a bad name fails fast.
  const handlers = runsWorkers ? await loadAllHandlers(config, topology, orderStore) : new Map<string, Handler>();
  const broker = new Broker({ topology, log, confirmTimeoutMs: options.confirmTimeoutMs, metrics });
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const processId = `${process.pid}:${Bun.randomUUIDv7()}`;
  const ledger = new MessageLedger(redis.pipelined, processId, leaseMs);
  const activity = new ActivityStore(redis.plain);
  const deadLetterStore = new DeadLetterStore(redis.plain, { retentionMs: config.DEAD_LETTER_RETENTION_MS });
  const plans = topology.handlerSubscriptions;
  const deadLetters = new DeadLetters({ store: deadLetterStore, ledger, publisher: broker, plans, log });
  const deferredWrites = new DeferredWrites(log);
  const intakeStore = new OrderStore(redis.pipelined);
  // Replicated for failover (Sentinel, Cluster): writes reach a replica before the 202 and before an ack.
  const replication =
    config.REDIS_SENTINELS || config.REDIS_CLUSTER_NODES
      ? new ReplicationBarrier(replicatedConnections([redis.pipelined, redis.plain]), () =>
          log.warn("no Redis replica acknowledged the writes in time: a failover now could lose them"),
        )
      : undefined;
  const intake = new OrderIntake({
    store: intakeStore,
    publisher: broker,
    metrics,
    log,
    deferred: deferredWrites,
    replication,
  });
  const events = new OrderEvents({ publisher: broker, store: orderStore, log });
  const channel = cancelChannel(keyPrefix);
  const cancellation = new OrderCancellation({
    store: orderStore,
    events,
    orderSubscription: ORDER_SUBSCRIPTION,
    redis: redis.plain,
    channel,
    log,
  });
  const cancels = new CancelSignals({ redis: redis.plain, channel, log });
  const workers = createWorkers({
    broker,
    redis,
    orderStore,
    deadLetterStore,
    ledger,
    handlers,
    plans,
    metrics,
    log,
    events,
    cancels,
    replication,
  });

  let draining = false;
  let server: Server<undefined> | undefined;
  const readiness = async () => {
    // Connected is not enough: a stalled broker or Redis must fail the check within 2 s.
    const [brokerAnswers, redisAnswers] = await Promise.all([
      broker.ready && broker.answers(READINESS_DEADLINE_MS),
      redis.ready && redis.answers(READINESS_DEADLINE_MS),
    ]);
    const checks = { broker: brokerAnswers, redis: redisAnswers, accepting: !draining };
    return { ready: Object.values(checks).every(Boolean), checks };
  };
  const app = createApp({ log, metrics, isDraining: () => draining, readiness });
  if (runsIntake) {
    const orders = new OrderListing(redis.plain);
    const queues = () => readQueues({ broker, topology, activity });
    const adminToken = config.ADMIN_TOKEN;
    registerOrderRoutes(app, { intake, store: orderStore, cancellation });
    registerAdminRoutes(app, { deadLetters, orders, queues, adminToken });
    registerConsoleRoutes(app, {
      adminToken,
      readiness,
      queues,
      activity,
      orders,
      orderStore,
      cancellation,
      deadLetters,
      topology,
    });
    mountDocs(app);
  }

  const intervalMs = options.queueDepthIntervalMs ?? 5000;
  const components: Component[] = [
    redisComponent(redis),
    brokerComponent({ broker, topology, config, log, runsWorkers }),
    queueDepthComponent({ broker, metrics, intervalMs, log }),
    ...(runsWorkers
      ? [
          cancelSignalsComponent(cancels),
          // Before the workers, so that it stops after them: its last report counts their drain.
          activityReporterComponent(new ActivityReporter({ store: activity, workers, metrics, processId, log })),
          workersComponent(workers, config.SHUTDOWN_TIMEOUT_MS),
        ]
      : []),
    ...(runsIntake ? [intakeComponent(intake, deferredWrites)] : []),
    ...(options.listen ? [httpComponent({ app, config, log, listening: (listening) => (server = listening) })] : []),
  ];
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

/** Every subscription's handler: HANDLERS_DIR, then the built-ins, the runtime's callback handler among them. */
function loadAllHandlers(config: Config, topology: Topology, store: OrderStore): Promise<Map<string, Handler>> {
  const callbacks = createCallbackHandler({
    store,
    secret: config.CALLBACK_SECRET,
    allowPrivate: config.CALLBACK_ALLOW_PRIVATE,
  });
  return loadHandlers(topology.handlerSubscriptions, config.HANDLERS_DIR, topology.source, {
    ...builtInHandlers,
    "deliver-callback": { default: callbacks },
  });
}

/** The handler subscriptions and the runtime's own consumers: dead-letter recording and order expiry. */
function createWorkers(options: {
  broker: Broker;
  redis: RedisConnections;
  orderStore: OrderStore;
  deadLetterStore: DeadLetterStore;
  ledger: MessageLedger;
  handlers: ReadonlyMap<string, Handler>;
  plans: readonly SubscriptionPlan[];
  metrics: Metrics;
  log: Logger;
  events: OrderEvents;
  cancels: CancelSignals;
  replication?: ReplicationBarrier;
}): Workers {
  const { broker, redis, orderStore, deadLetterStore, ledger, handlers, plans, metrics, log, events, cancels } =
    options;
  const { replication } = options;
  const recorder = new DeadLetterRecorder({
    store: deadLetterStore,
    ledger,
    planForQueue: (queue) => planForQueue(broker, plans, queue),
    log,
  });
  return new Workers({
    broker,
    plans,
    handlers,
    orderSubscription: ORDER_SUBSCRIPTION,
    deps: {
      publisher: broker,
      ledger,
      metrics,
      log,
      redis: redis.plain,
      events,
      cancels,
      orderStore,
      slots: new ConcurrencySlots(redis.pipelined, ledger.leaseMs, (error) =>
        log.warn({ err: error }, "could not keep a concurrency slot; another message with its key may start"),
      ),
      rates: new RateLimiter(redis.pipelined),
    },
    internal: [
      { subscription: DEAD_LETTER_SUBSCRIPTION, handle: (message) => recorder.record(message) },
      {
        subscription: ORDER_TIMEOUT_SUBSCRIPTION,
        handle: (message, content) => expireOrder(message, content, orderStore, events, log),
      },
    ],
    log,
    ...(replication ? { replication } : {}),
  });
}

/** Maps a queue name as the broker knows it (Rascal may namespace it) back to its subscription. */
function planForQueue(broker: Broker, plans: readonly SubscriptionPlan[], queue: string): SubscriptionPlan | undefined {
  const queues = broker.config.vhosts;
  return plans.find((plan) => (queues[plan.vhost]?.queues?.[plan.queue]?.fullyQualifiedName ?? plan.queue) === queue);
}
