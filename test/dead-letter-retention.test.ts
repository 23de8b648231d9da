import { afterAll, afterEach, expect, test } from "bun:test";
import Redis from "ioredis";
import type { Publisher } from "../src/broker/broker";
import { loadTopology } from "../src/broker/topology";
import { createLogger } from "../src/log";
import { DeadLetters, ReplayError } from "../src/runtime/dead-letters";
import { type DeadLetter, DeadLetterStore, MAX_STORED_PAYLOAD_BYTES } from "../src/store/dead-letter-store";
import { MessageLedger } from "../src/store/message-ledger";
import { deleteKeys } from "./helpers/service";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
const redis = new Redis(REDIS_URL, { keyPrefix: prefix });
afterEach(async () => {
  await deleteKeys(prefix, REDIS_URL);
});
afterAll(() => redis.disconnect());

function deadLetter(messageId: string, deadLetteredAt: Date, payload = '{"orderId":"x"}'): DeadLetter {
  return {
    id: DeadLetterStore.idFor("process_order", messageId),
    orderId: null,
    messageId,
    subscription: "process_order",
    queue: "orders.process",
    reason: "permanent",
    attempts: 1,
    error: "declined",
    payload,
    contentType: "application/json",
    headers: {},
    deadLetteredAt: deadLetteredAt.toISOString(),
  };
}

test("dead letters expire after the retention: the entry carries a TTL and the index drops the old ones", async () => {
  const retentionMs = 60_000;
  const store = new DeadLetterStore(redis, { retentionMs });
  const fresh = deadLetter("fresh", new Date());
  const old = deadLetter("old", new Date(Date.now() - 2 * retentionMs));
  await store.save(old);
  await store.save(fresh);
  expect((await store.list()).map((entry) => entry.messageId)).toEqual(["fresh"]);
  expect(await redis.zcard("dl:index")).toBe(1);
  const ttl = await redis.pttl(`dl:${fresh.id}`);
  expect(ttl).toBeGreaterThan(retentionMs - 5000);
  expect(ttl).toBeLessThanOrEqual(retentionMs);
});

test("a payload larger than what is stored is cut and marked, and its dead letter is not replayed", async () => {
  const large = Buffer.alloc(MAX_STORED_PAYLOAD_BYTES + 10, "a");
  expect(DeadLetterStore.storedPayload(large)).toEqual({
    payload: "a".repeat(MAX_STORED_PAYLOAD_BYTES),
    payloadTruncated: true,
  });
  expect(DeadLetterStore.storedPayload(Buffer.from("{}"))).toEqual({ payload: "{}" });

  const store = new DeadLetterStore(redis);
  const entry = { ...deadLetter("large", new Date()), ...DeadLetterStore.storedPayload(large) };
  await store.save(entry);
  const published: string[] = [];
  const publisher = {
    publish: async (publication: string) => void published.push(publication),
    declares: () => true,
    canPublish: true,
  } as Publisher;
  const topology = loadTopology({
    path: new URL("../rascal.json", import.meta.url).pathname,
    defaultAmqpUrl: "amqp://x",
  });
  const deadLetters = new DeadLetters({
    store,
    ledger: new MessageLedger(redis, "retention-test", 30_000),
    publisher,
    plans: topology.handlerSubscriptions,
    log: createLogger("fatal"),
  });
  await expect(deadLetters.replay(entry.id)).rejects.toThrow(ReplayError);
  expect(published).toEqual([]);
  expect(await store.get(entry.id)).toBeDefined();
});
