import type { Server } from "bun";
import type { Broker } from "./broker/broker";
import { type Topology, TopologyError } from "./broker/topology";
import type { Config } from "./config";
import { ConnectError } from "./connect-error";
import type { createApp } from "./http/create-app";
import type { DeferredWrites } from "./intake/deferred-writes";
import type { OrderIntake } from "./intake/order-intake";
import type { Component } from "./lifecycle";
import { type Logger, maskUrl } from "./log";
import type { Metrics } from "./metrics";
import type { ActivityReporter } from "./runtime/activity-reporter";
import type { CancelSignals } from "./runtime/cancel-signals";
import { type QueueDepthGauge, startQueueDepthGauge } from "./runtime/queue-depth-gauge";
import type { Workers } from "./runtime/workers";
import { describeRedisTarget, type RedisConnections, redisTarget } from "./store/redis";

/** The service's parts as lifecycle components (see lifecycle.ts), in the order they start. */

/** How long a stopping process keeps its HTTP listener open after it began refusing orders. */
const HTTP_CLOSE_GRACE_MS = 1000;
/** How long shutdown waits for background Redis writes of the intake (a 503'd order's clean-up). */
const DEFERRED_WRITES_WAIT_MS = 2000;

export function redisComponent(redis: RedisConnections): Component {
  return { name: "redis", start: () => redis.connect(), stop: () => redis.close() };
}

/** Declares the topology, says where it connected, opens the publisher. */
export function brokerComponent(options: {
  broker: Broker;
  topology: Topology;
  config: Config;
  log: Logger;
  runsWorkers: boolean;
}): Component {
  const { broker } = options;
  return {
    name: "broker",
    start: async () => {
      await broker.declare().catch((error: unknown) => {
        // Rascal's message already shows the URL with the password masked.
        if (error instanceof TopologyError) throw error;
        throw new ConnectError(`cannot connect to RabbitMQ: ${(error as Error).message}`);
      });
      logConnected(options);
      await broker.openPublisher();
    },
    stop: () => broker.close(),
  };
}

export function queueDepthComponent(options: {
  broker: Broker;
  metrics: Metrics;
  intervalMs: number;
  log: Logger;
}): Component {
  let gauge: QueueDepthGauge | undefined;
  return {
    name: "queue depth gauge",
    start: () => {
      gauge = startQueueDepthGauge({ ...options, gauge: options.metrics.queueMessages });
    },
    stop: () => gauge?.stop(),
  };
}

/** The cancel channel, subscribed before the workers start so that no request is missed. */
export function cancelSignalsComponent(cancels: CancelSignals): Component {
  return { name: "cancel signals", start: () => cancels.start(), stop: () => cancels.stop() };
}

/** A worker process's activity reports to Redis (unsettled deliveries, outcomes) for the admin API and console. */
export function activityReporterComponent(reporter: ActivityReporter): Component {
  return { name: "activity reports", start: () => reporter.start(), stop: () => reporter.stop() };
}

export function workersComponent(workers: Workers, shutdownTimeoutMs: number): Component {
  return {
    name: "workers",
    start: () => workers.start(),
    drain: () => workers.drain(),
    stop: () => workers.stop(shutdownTimeoutMs),
  };
}

export function intakeComponent(intake: OrderIntake, deferredWrites: DeferredWrites): Component {
  return {
    name: "intake",
    start: () => {},
    stop: async () => {
      if (deferredWrites.size > 0) await deferredWrites.settle(DEFERRED_WRITES_WAIT_MS);
      await intake.close();
    },
  };
}

/**
 * Listens on PORT. Stopping keeps answering for a moment (503 for orders, `Connection: close`
 * on every answer) so that clients on keep-alive connections leave before the listener closes.
 */
export function httpComponent(options: {
  app: ReturnType<typeof createApp>;
  config: Config;
  log: Logger;
  listening: (server: Server<undefined>) => void;
}): Component {
  const { app, config, log } = options;
  let server: Server<undefined> | undefined;
  return {
    name: "http",
    start: () => {
      server = listen(app, config);
      options.listening(server);
      log.info({ host: config.HOST, port: server.port, role: config.ROLE }, "listening");
    },
    stop: async () => {
      await Bun.sleep(Math.min(HTTP_CLOSE_GRACE_MS, config.SHUTDOWN_TIMEOUT_MS));
      await server?.stop();
    },
  };
}

/** Bun.serve on PORT; a port in use is named in one line instead of Bun's stack. */
function listen(app: ReturnType<typeof createApp>, config: Config): Server<undefined> {
  try {
    return Bun.serve({ hostname: config.HOST, port: config.PORT, fetch: app.fetch, maxRequestBodySize: 1024 * 1024 });
  } catch (error) {
    if ((error as { code?: string }).code === "EADDRINUSE") {
      throw new ConnectError(`PORT ${config.PORT} is already in use by another process (HOST ${config.HOST})`);
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
  const redis = describeRedisTarget(redisTarget(config));
  log.info({ topology: topology.source, amqp, redis, role: config.ROLE }, "connected");
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
