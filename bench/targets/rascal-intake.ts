/**
 * Peer: the straightforward intake — Hono + zod + one awaited Rascal confirm per request,
 * Rascal's default confirm channel pool. Env: PORT, AMQP_URL, BENCH_NAMESPACE.
 * The queue and exchange live in the namespace and are deleted on SIGTERM.
 */
import { zValidator } from "@hono/zod-validator";
import { Hono } from "hono";
import { BrokerAsPromised } from "rascal";
import { peerOrderSchema } from "../lib/peer-order-schema";

const broker = await BrokerAsPromised.create({
  vhosts: {
    "/": {
      namespace: process.env.BENCH_NAMESPACE ?? `bench-${process.pid}`,
      connection: { url: process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672" },
      exchanges: { orders: { type: "direct" } },
      queues: { "orders.process": { options: { durable: true } } },
      bindings: { "orders[order.created] -> orders.process": {} },
    },
  },
  publications: {
    order_created: {
      exchange: "orders",
      routingKey: "order.created",
      confirm: true,
      options: { persistent: true, mandatory: true },
    },
  },
});

const app = new Hono();
app.get("/healthz", (c) => c.text("ok"));
// Nothing consumes this peer's queue: the bench empties it between runs so that the messages
// piling up do not slow the broker down for the targets measured after it.
app.post("/bench/purge", async (c) => {
  await broker.purge();
  return c.text("purged");
});
app.post("/orders", zValidator("json", peerOrderSchema), async (c) => {
  const order = { id: crypto.randomUUID(), status: "accepted", ...c.req.valid("json") };
  try {
    const session = await broker.publish("order_created", order, { options: { messageId: order.id } });
    await new Promise<void>((resolve, reject) => {
      let returned = false;
      session.on("return", () => (returned = true));
      session.on("success", () => (returned ? reject(new Error("unroutable")) : resolve()));
      session.on("error", reject);
    });
  } catch {
    return c.json({ title: "broker unavailable" }, 503);
  }
  return c.json(order, 202);
});
Bun.serve({ port: Number(process.env.PORT), fetch: app.fetch });

process.once("SIGTERM", async () => {
  await broker.nuke().catch(() => {});
  process.exit(0);
});
