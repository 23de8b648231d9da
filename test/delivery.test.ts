import { afterEach, expect, test } from "bun:test";
import { ORDER_PUBLICATION } from "../src/broker/topology";
import { until } from "./helpers/eventually";
import { type OrderJson, sampleOrder, startTestService, type TestService, useOrderHandler } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

function orderMessage(orderId: string, holdMs = 0) {
  return {
    orderId,
    customerId: "c-1",
    items: [{ sku: "A", quantity: 1, unitPrice: 1 }],
    currency: "USD",
    total: 1,
    createdAt: new Date().toISOString(),
    holdMs,
  };
}

test("the same messageId delivered twice runs the handler once", async () => {
  service = await startTestService({ transform: useOrderHandler("count-runs") });
  const accepted = (await (await service.post(sampleOrder())).json()) as OrderJson;
  await service.waitForOrder(accepted.id, (order) => order.status === "completed");

  // A second copy of the same message, as a publisher retry or a broker redelivery would make.
  await service.broker.publish(ORDER_PUBLICATION, orderMessage(accepted.id), { messageId: accepted.id });
  await until("the copy was skipped as a duplicate", async () =>
    (await service!.metrics.messagesConsumed.get()).values.some((v) => v.labels.outcome === "duplicate" && v.value > 0),
  );

  expect(await service.testRedis.get(`runs:${accepted.id}`)).toBe("1");
  const order = (await (await service.getOrder(accepted.id)).json()) as OrderJson;
  expect(order.status).toBe("completed");
  expect(order.attempts).toBe(1);
});

test("two copies delivered at once: one runs, the other waits and is skipped", async () => {
  service = await startTestService({ transform: useOrderHandler("count-runs") });
  // An order record as the intake writes it, then two concurrent copies of its message.
  const orderId = Bun.randomUUIDv7();
  const { OrderStore } = await import("../src/store/order-store");
  const store = new OrderStore(service.redis);
  await store.create(orderId, OrderStore.document({ ...sampleOrder() }), new Date().toISOString());
  const message = orderMessage(orderId, 300);
  await Promise.all(
    [0, 1].map(async () => {
      await service!.broker.publish(ORDER_PUBLICATION, message, { messageId: orderId });
    }),
  );
  await service.waitForOrder(orderId, (order) => order.status === "completed");
  await until("one copy was skipped as a duplicate", async () =>
    (await service!.metrics.messagesConsumed.get()).values.some(
      (v) => v.labels.outcome === "duplicate" && v.value === 1,
    ),
  );
  expect(await service.testRedis.get(`runs:${orderId}`)).toBe("1");
});

test("an order whose record Redis lost is rebuilt from its message and completes once", async () => {
  service = await startTestService({ transform: useOrderHandler("count-runs") });
  // As after a failover to a replica that had not received the record: the message alone.
  const orderId = Bun.randomUUIDv7();
  await service.broker.publish(ORDER_PUBLICATION, orderMessage(orderId), { messageId: orderId });
  const order = await service.waitForOrder(orderId, (current) => current.status === "completed");
  expect(order).toMatchObject({ customerId: "c-1", currency: "USD", total: 1, attempts: 1 });
  expect(order.history.map((entry) => entry.status)).toEqual(["accepted", "processing", "completed"]);
  expect(order.history[0]!.detail).toBe("record rebuilt from its message: Redis had lost it");
  expect(await service.testRedis.get(`runs:${orderId}`)).toBe("1");
});

test("a message of an order the intake refused is dropped, not rebuilt", async () => {
  service = await startTestService({ transform: useOrderHandler("count-runs") });
  const orderId = Bun.randomUUIDv7();
  // What the intake leaves when the broker did not take an order in time: a marker, no order.
  await service.testRedis.hset(`order:${orderId}`, "rejected", "1");
  await service.broker.publish(ORDER_PUBLICATION, orderMessage(orderId), { messageId: orderId });
  await until("the message was dropped", async () =>
    (await service!.metrics.messagesConsumed.get()).values.some((v) => v.labels.outcome === "dropped" && v.value > 0),
  );
  expect(await service.testRedis.get(`runs:${orderId}`)).toBeNull();
  expect((await service.getOrder(orderId)).status).toBe(404);
});

test("an unroutable order gets no 202 and leaves only the marker that it was refused", async () => {
  service = await startTestService({
    transform: (config) => {
      const vhost = config.vhosts["/"] as { bindings: Record<string, unknown> };
      delete vhost.bindings["orders[order.created] -> orders.process"];
    },
  });
  const response = await service.post(sampleOrder(), { "Idempotency-Key": "unroutable-1" });
  expect(response.status).toBe(503);
  expect(response.headers.get("retry-after")).toBeTruthy();
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  const left = await service.testRedis.keys(`${service.keyPrefix}order:*`);
  expect(left).toHaveLength(1);
  expect(await service.testRedis.hgetall(left[0]!.slice(service.keyPrefix.length))).toEqual({ rejected: "1" });
  // The key was freed: the client may try again once the topology is fixed.
  expect(await service.testRedis.keys(`${service.keyPrefix}idem:*`)).toEqual([]);
  expect((await service.metrics.ordersAccepted.get()).values[0]?.value ?? 0).toBe(0);
});

test("an event handler gets its order's id in ctx, without tracking the event as the order", async () => {
  service = await startTestService({
    transform: (config) => {
      config.subscriptions.notify_customer!.handler = "record-order-id";
    },
  });
  const target = service;
  const { id } = (await (await target.post(sampleOrder())).json()) as OrderJson;
  await until(
    "the completion event was handled",
    async () => (await target.testRedis.get("order-id:notify_customer")) !== null,
  );
  expect(await target.testRedis.get("order-id:notify_customer")).toBe(id);
  const order = (await (await target.getOrder(id)).json()) as OrderJson;
  expect(order.status).toBe("completed");
  expect(order.history.map((entry) => entry.status)).toEqual(["accepted", "processing", "completed"]);
});
