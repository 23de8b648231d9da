/**
 * Ceiling for durable acceptance: raw amqplib, one confirm channel publishing persistent
 * messages to a durable queue with WINDOW confirms in flight, and a consumer acking them.
 * Prints {msgsPerSec, messages, seconds} as its last line. Env: AMQP_URL, BENCH_QUEUE,
 * BENCH_SECONDS, BENCH_QUORUM ("1" for a quorum queue, as the service's order queue is),
 * BENCH_WINDOW (confirms in flight, default 256), BENCH_PUBLISH_ONLY ("1": no consumer, the
 * confirmed publish rate alone).
 */
import amqp from "amqplib";
import { SAMPLE_ORDER } from "../lib/sample-order";

const WINDOW = Number(process.env.BENCH_WINDOW ?? 256);
const publishOnly = process.env.BENCH_PUBLISH_ONLY === "1";
const url = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const queue = process.env.BENCH_QUEUE ?? `bench-ceiling-${process.pid}`;
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const quorum = process.env.BENCH_QUORUM === "1";

const publisherConnection = await amqp.connect(url);
const consumerConnection = await amqp.connect(url);
const admin = await publisherConnection.createChannel();
await admin.assertQueue(queue, { durable: true, arguments: quorum ? { "x-queue-type": "quorum" } : {} });

const consumer = await consumerConnection.createChannel();
await consumer.prefetch(WINDOW);
let consumed = 0;
let allConsumed: () => void = () => {};
let published = -1;
const done = new Promise<void>((resolve) => (allConsumed = resolve));
if (!publishOnly) {
  await consumer.consume(queue, (message) => {
    if (!message) return;
    consumer.ack(message);
    consumed += 1;
    if (consumed === published) allConsumed();
  });
}

const channel = await publisherConnection.createConfirmChannel();
let inFlight = 0;
let sent = 0;
let wake: (() => void) | undefined;
const started = performance.now();
const stopAt = started + seconds * 1000;
while (performance.now() < stopAt) {
  if (inFlight >= WINDOW) {
    await new Promise<void>((resolve) => (wake = resolve));
    continue;
  }
  inFlight += 1;
  sent += 1;
  const body = Buffer.from(JSON.stringify({ orderId: crypto.randomUUID(), ...SAMPLE_ORDER }));
  channel.publish(
    "",
    queue,
    body,
    { persistent: true, mandatory: true, messageId: String(sent), contentType: "application/json" },
    (error) => {
      if (error) throw error;
      inFlight -= 1;
      wake?.();
      wake = undefined;
    },
  );
  // Yield now and then so confirms and deliveries are read while the window is open.
  if (sent % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await channel.waitForConfirms();
published = sent;
if (!publishOnly && consumed < published) await done;
const elapsed = (performance.now() - started) / 1000;

await admin.deleteQueue(queue);
await consumerConnection.close();
await publisherConnection.close();
console.log(JSON.stringify({ msgsPerSec: published / elapsed, messages: published, seconds: elapsed }));
