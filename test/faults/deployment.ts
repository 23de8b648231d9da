import type Redis from "ioredis";
import type { QueueDepth } from "../helpers/private-rabbitmq";
import { ServiceProcess } from "../helpers/service-process";

export type Role = "api" | "worker";

/** Drain time on SIGTERM: the longest fault-suite handlers (5 s) outlast it and go back to the queue. */
export const SHUTDOWN_TIMEOUT_MS = 3000;

export interface ServiceReplica {
  role: Role;
  service: ServiceProcess;
}

/**
 * What the fault suite runs a scenario against: processes of the real service on a private
 * broker and Redis, one node each or clustered. Credentials are random (`secret` is part of
 * each), so that a leak into any log line can be found.
 */
export interface Deployment {
  readonly secret: string;
  /** Every process ever started: all their log lines are checked for credentials. */
  readonly history: ServiceReplica[];
  /** Clients send every unanswered order again with its Idempotency-Key, in every scenario. */
  readonly clientsAlwaysRetry: boolean;
  start(): Promise<void>;
  destroy(): Promise<void>;
  /** What runs where, for the suite's first line. */
  describe(): string;
  /** The processes running now. */
  running(): ServiceReplica[];
  /** The API processes' base URLs: clients spread their orders over them. */
  apiUrls(): string[];
  /** Waits until every process answers /readyz 200. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Every queue's depth, as the broker reports it. */
  queues(): Promise<QueueDepth[]>;
  /** A client of the deployment's Redis (following a failover) for the suite's checks. */
  redisClient(): Redis;
}

export interface DeploymentOptions {
  /** Echo every process' log lines to stderr (debugging). */
  echo?: boolean;
  /** Edits of the shipped rascal.json (the fault suite's by default: see faultTopology). */
  topology?: (config: Record<string, any>) => void;
}

/** One process of the real service, with the environment every replica of the deployment shares. */
export function startReplica(options: {
  role: Role;
  env: Record<string, string>;
  echo: boolean;
  history: ServiceReplica[];
}): ServiceProcess {
  const service = new ServiceProcess({
    echo: options.echo,
    env: { ...options.env, ROLE: options.role, SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) },
  });
  options.history.push({ role: options.role, service });
  return service;
}

/**
 * The shipped topology, with the fault suite's handler on the order subscription, one order of a
 * customer at a time (so that every fault also meets the concurrency slots).
 */
export function faultTopology(config: Record<string, any>): void {
  config.subscriptions.process_order.handler = "record-effect";
  config.pipeline.concurrency = { process_order: { key: "customerId", limit: 1 } };
}
