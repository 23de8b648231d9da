/**
 * Peer: the same order service on BullMQ — Hono + zod, `queue.add` per order with a jobId,
 * attempts and backoff, a Worker in the same process with a no-op processor.
 * With BENCH_EQUAL_WORK=1 it does per order what this service's default topology does: the
 * order job is kept 7 days as the order's status record, completing it adds a notification job
 * (run by a second no-op Worker), and an order with a callbackUrl also gets a callback job; an
 * order counts as completed when its notification ran.
 * GET /stats answers {accepted, completed} for the bench. Env: PORT, REDIS_URL, BENCH_PREFIX.
 */
import { zValidator } from "@hono/zod-validator";
import { Queue, Worker } from "bullmq";
import { Hono } from "hono";
import IORedis from "ioredis";
import { peerOrderSchema } from "../lib/peer-order-schema";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = process.env.BENCH_PREFIX ?? `bench-${process.pid}`;
const equalWork = process.env.BENCH_EQUAL_WORK === "1";
const SEVEN_DAYS_S = 7 * 24 * 60 * 60;
const connection = new IORedis(redisUrl, { maxRetriesPerRequest: null });
const workerConnection = new IORedis(redisUrl, { maxRetriesPerRequest: null });
const queue = new Queue("orders", { connection, prefix });
const notifications = new Queue("notifications", { connection, prefix });
const callbacks = new Queue("callbacks", { connection, prefix });
const kept = equalWork ? { removeOnComplete: { age: SEVEN_DAYS_S }, removeOnFail: { age: SEVEN_DAYS_S } } : {};
const retried = { attempts: 4, backoff: { type: "exponential", delay: 1000 } };
let accepted = 0;
let completed = 0;

const workers = [
  new Worker(
    "orders",
    async (job) => {
      if (!equalWork) return undefined;
      const order = job.data as { id: string; callbackUrl?: string };
      await notifications.add("order.completed", { orderId: order.id }, { ...retried, removeOnComplete: true });
      if (order.callbackUrl) await callbacks.add("callback", order, { ...retried, removeOnComplete: true });
      return undefined;
    },
    { connection: workerConnection, prefix, concurrency: 64 },
  ),
];
if (equalWork) {
  workers.push(
    new Worker("notifications", async () => undefined, { connection: workerConnection, prefix, concurrency: 32 }),
  );
  workers[1]!.on("completed", () => (completed += 1));
} else {
  workers[0]!.on("completed", () => (completed += 1));
}

const app = new Hono();
app.get("/healthz", (c) => c.text("ok"));
app.get("/stats", (c) => c.json({ accepted, completed }));
app.post("/orders", zValidator("json", peerOrderSchema), async (c) => {
  const id = crypto.randomUUID();
  const order = { id, status: "accepted", ...c.req.valid("json") };
  try {
    await queue.add("order", order, { jobId: id, ...retried, ...kept });
  } catch {
    return c.json({ title: "queue unavailable" }, 503);
  }
  accepted += 1;
  return c.json(order, 202);
});
Bun.serve({ port: Number(process.env.PORT), fetch: app.fetch });

process.once("SIGTERM", async () => {
  await Promise.all(workers.map((worker) => worker.close()));
  for (const each of [queue, notifications, callbacks]) {
    await each.obliterate({ force: true }).catch(() => {});
    await each.close();
  }
  connection.disconnect();
  workerConnection.disconnect();
  process.exit(0);
});
