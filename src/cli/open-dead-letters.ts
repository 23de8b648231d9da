import { Broker } from "../broker/broker";
import type { Config } from "../config";
import type { Logger } from "../log";
import { DeadLetters } from "../runtime/dead-letters";
import { DeadLetterStore } from "../store/dead-letter-store";
import { DEFAULT_LEASE_MS, MessageLedger } from "../store/message-ledger";
import { RedisConnections, redisTarget } from "../store/redis";
import { configuredTopology } from "./configured-topology";

/**
 * The same `DeadLetters` the admin API uses, wired to the configured Redis (and key prefix) and
 * broker. The broker declares the topology as the service does, so a replay goes through the
 * same publications; nothing is consumed.
 */
export async function openDeadLetters(
  config: Config,
  log: Logger,
): Promise<{ deadLetters: DeadLetters; close(): Promise<void> }> {
  const topology = configuredTopology(config);
  // Redis warnings would drown the command's own output.
  const redis = new RedisConnections({
    ...redisTarget(config),
    keyPrefix: config.REDIS_KEY_PREFIX,
    log,
    quiet: true,
  });
  await redis.connect();
  const broker = new Broker({ topology, log });
  try {
    await broker.declare();
    await broker.openPublisher();
  } catch (error) {
    await broker.close().catch(() => {});
    await redis.close();
    throw error;
  }
  const ledger = new MessageLedger(redis.plain, `cli:${process.pid}:${Bun.randomUUIDv7()}`, DEFAULT_LEASE_MS);
  const store = new DeadLetterStore(redis.plain, { retentionMs: config.DEAD_LETTER_RETENTION_MS });
  const deadLetters = new DeadLetters({ store, ledger, publisher: broker, plans: topology.handlerSubscriptions, log });
  return {
    deadLetters,
    async close() {
      await broker.close().catch(() => {});
      await redis.close();
    },
  };
}
