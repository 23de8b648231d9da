import { afterEach, expect, test } from "bun:test";
import { QueueConsumers, type Settlement } from "../src/broker/queue-consumers";
import { createLogger } from "../src/log";
import { until } from "./helpers/eventually";
import { freePort } from "./helpers/free-port";
import { AMQP_URL, tempQueue } from "./helpers/temp-queue";

const log = createLogger(process.env.LOG_LEVEL ?? "silent");
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A quorum queue (acks are log entries there) holding `count` JSON messages m-0…m-(count-1). */
async function filledQueue(count: number) {
  const filled = await tempQueue("consume", { "x-queue-type": "quorum" });
  cleanups.push(filled.remove);
  for (let i = 0; i < count; i++)
    filled.channel.sendToQueue(filled.queue, Buffer.from(JSON.stringify({ n: i })), {
      messageId: `m-${i}`,
      contentType: "application/json",
    });
  await filled.channel.waitForConfirms();
  return filled;
}

function consumers(
  queue: string,
  prefetch: number,
  onDelivery: (messageId: string, content: unknown) => Promise<Settlement>,
): QueueConsumers {
  const consumer = new QueueConsumers({ urls: [AMQP_URL], name: "queue-consumers test", log });
  consumer.add({ name: "test", vhost: "/", source: queue, prefetch }, (message, content) =>
    onDelivery(message.properties.messageId as string, content),
  );
  cleanups.push(() => consumer.close());
  return consumer;
}

test("deliveries finishing out of order, some requeued once, are each acked exactly once", async () => {
  const { queue, ready } = await filledQueue(300);
  const seen = new Map<string, number>();
  const consumer = consumers(queue, 32, async (messageId, content) => {
    const times = (seen.get(messageId) ?? 0) + 1;
    seen.set(messageId, times);
    expect(content).toEqual({ n: Number(messageId.slice(2)) });
    await Bun.sleep(Math.random() * 20);
    // Every tenth message goes back once.
    return Number(messageId.slice(2)) % 10 === 0 && times === 1 ? "requeue" : "ack";
  });
  await consumer.start();
  await until(
    "all delivered",
    async () =>
      seen.size === 300 && [...seen].every(([id, times]) => times === (Number(id.slice(2)) % 10 === 0 ? 2 : 1)),
  );
  await Bun.sleep(100);
  // Closing returns whatever is unacknowledged: nothing may come back, and nothing came twice.
  await consumer.close();
  expect(await ready()).toBe(0);
  expect([...seen.values()].reduce((sum, times) => sum + times, 0)).toBe(330);
});

test("a delivery still running is not acked along with the later ones that finished", async () => {
  const { queue, ready } = await filledQueue(20);
  const finished: string[] = [];
  let releaseFirst: () => void = () => {};
  const consumer = consumers(queue, 20, async (messageId) => {
    if (messageId === "m-0") await new Promise<void>((resolve) => (releaseFirst = resolve));
    finished.push(messageId);
    return "ack";
  });
  await consumer.start();
  await until("the others finished", async () => finished.length === 19);
  await Bun.sleep(100);
  await consumer.close();
  // The running one goes back to the queue as the channel closes; the 19 acks held.
  await until("the running one is back in the queue", async () => (await ready()) === 1);
  await Bun.sleep(200);
  expect(await ready()).toBe(1);
  releaseFirst();
});

test("content is decoded by content type, and content that does not parse is reported, not thrown", async () => {
  const { queue, channel, remove } = await tempQueue("decode");
  cleanups.push(remove);
  channel.sendToQueue(queue, Buffer.from("{ broken"), { messageId: "bad", contentType: "application/json" });
  channel.sendToQueue(queue, Buffer.from("hello"), { messageId: "text", contentType: "text/plain" });
  channel.sendToQueue(queue, Buffer.from([1, 2]), { messageId: "bytes" });
  await channel.waitForConfirms();

  const got = new Map<string, { content: unknown; invalid?: string }>();
  const consumer = new QueueConsumers({ urls: [AMQP_URL], name: "queue-consumers test", log });
  consumer.add({ name: "test", vhost: "/", source: queue, prefetch: 5 }, async (message, content, invalid) => {
    got.set(message.properties.messageId as string, { content, invalid: invalid?.message });
    return "ack";
  });
  cleanups.push(() => consumer.close());
  await consumer.start();
  await until("all three delivered", async () => got.size === 3);
  expect(got.get("bad")!.invalid).toBeTruthy();
  expect(got.get("text")).toEqual({ content: "hello", invalid: undefined });
  expect(Buffer.isBuffer(got.get("bytes")!.content)).toBe(true);
});

test("with several broker URLs, a node that refuses is skipped for the next one", async () => {
  const { queue } = await filledQueue(3);
  const refused = `amqp://guest:guest@127.0.0.1:${freePort()}`;
  const seen: string[] = [];
  const consumer = new QueueConsumers({ urls: [refused, AMQP_URL], name: "queue-consumers test", log });
  consumer.add({ name: "test", vhost: "/", source: queue, prefetch: 5 }, async (message) => {
    seen.push(message.properties.messageId as string);
    return "ack";
  });
  cleanups.push(() => consumer.close());
  await consumer.start();
  await until("all three consumed", async () => seen.length === 3);
  expect(consumer.ready).toBe(true);
});
