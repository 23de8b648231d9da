/**
 * Peer: the same order service on BullMQ — Hono + zod, `queue.add` per order with a jobId,
 * attempts and backoff, a Worker in the same process with a no-op processor.
 * GET /stats answers {accepted, completed} for the bench. Env: PORT, REDIS_URL, BENCH_PREFIX.
 */
import { zValidator } from "@hono/zod-validator";
import { Queue, Worker } from "bullmq";
import { Hono } from "hono";
import IORedis from "ioredis";
import { peerOrderSchema } from "../lib/peer-order-schema";

const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = process.env.BENCH_PREFIX ?? `bench-${process.pid}`;
const connection = new IORedis(redisUrl, { maxRetriesPerRequest: null });
const workerConnection = new IORedis(redisUrl, { maxRetriesPerRequest: null });
const queue = new Queue("orders", { connection, prefix });
let accepted = 0;
let completed = 0;
const worker = new Worker("orders", async () => undefined, { connection: workerConnection, prefix, concurrency: 64 });
worker.on("completed", () => (completed += 1));

const app = new Hono();
app.get("/healthz", (c) => c.text("ok"));
app.get("/stats", (c) => c.json({ accepted, completed }));
app.post("/orders", zValidator("json", peerOrderSchema), async (c) => {
  const id = crypto.randomUUID();
  const order = { id, status: "accepted", ...c.req.valid("json") };
  try {
    await queue.add("order", order, { jobId: id, attempts: 4, backoff: { type: "exponential", delay: 1000 } });
  } catch {
    return c.json({ title: "queue unavailable" }, 503);
  }
  accepted += 1;
  return c.json(order, 202);
});
Bun.serve({ port: Number(process.env.PORT), fetch: app.fetch });

process.once("SIGTERM", async () => {
  await worker.close();
  await queue.obliterate({ force: true }).catch(() => {});
  await queue.close();
  connection.disconnect();
  workerConnection.disconnect();
  process.exit(0);
});
