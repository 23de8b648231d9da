import { connectBroker } from "../broker/broker";
import { Publisher } from "../broker/publisher";
import { ORDER_SUBSCRIPTION, type SubscriptionPlan } from "../broker/topology";
import type { Config } from "../config";
import type { Logger } from "../log";
import { DeadLetters } from "../runtime/dead-letters";
import { DeadLetterStore } from "../store/dead-letter-store";
import { MessageLedger } from "../store/message-ledger";
import { createRedis } from "../store/redis";
import { configuredTopology } from "./configured-topology";

/** How long the CLI waits for the broker to confirm a replayed message. */
const CONFIRM_TIMEOUT_MS = 5000;

/**
 * The same `DeadLetters` the admin API uses, wired to the configured Redis (and key prefix) and
 * broker. The broker connection declares the topology as the service does, so a replay goes
 * through the same publications; nothing is consumed.
 */
export async function openDeadLetters(
  config: Config,
  log: Logger,
): Promise<{ deadLetters: DeadLetters; close(): Promise<void> }> {
  const topology = configuredTopology(config);
  const redis = createRedis({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX });
  redis.on("error", (error: Error) => log.debug({ err: error.message }, "redis error"));
  await redis.connect();
  let broker;
  try {
    broker = await connectBroker(topology, log);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const plans = new Map<string, SubscriptionPlan>(topology.handlerSubscriptions.map((plan) => [plan.name, plan]));
  const ledger = new MessageLedger(redis, `cli:${process.pid}:${Bun.randomUUIDv7()}`, 30_000);
  const publisher = new Publisher(broker.broker, broker.health, CONFIRM_TIMEOUT_MS, log);
  try {
    await publisher.start();
  } catch (error) {
    await broker.broker.shutdown().catch(() => {});
    redis.disconnect();
    throw error;
  }
  const deadLetters = new DeadLetters(new DeadLetterStore(redis), ledger, publisher, plans, ORDER_SUBSCRIPTION, log);
  return {
    deadLetters,
    async close() {
      await publisher.close().catch(() => {});
      await broker.broker.shutdown().catch(() => {});
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
