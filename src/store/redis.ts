import "../tracing-channel-shim";
import Redis from "ioredis";

export interface RedisOptions {
  url: string;
  /** Prepended to every key (tests use a random one per test). */
  keyPrefix?: string;
}

/**
 * Commands fail fast instead of queueing while Redis is unreachable: the intake must answer 503
 * rather than hang, and a worker must not ack without a dedup decision.
 */
export function createRedis(options: RedisOptions): Redis {
  return new Redis(options.url, {
    keyPrefix: options.keyPrefix,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * times, 1000),
  });
}

export function isRedisReady(redis: Redis): boolean {
  return redis.status === "ready";
}
