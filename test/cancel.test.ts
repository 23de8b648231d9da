import { afterEach, expect, test } from "bun:test";
import { until } from "./helpers/eventually";
import {
  expectProblem,
  type OrderJson,
  sampleOrder,
  startTestService,
  type TestService,
  useOrderHandler,
} from "./helpers/service";

const services: TestService[] = [];
afterEach(async () => {
  for (const service of services.splice(0).reverse()) await service.close();
});

async function start(options: Parameters<typeof startTestService>[0] = {}): Promise<TestService> {
  const service = await startTestService(options);
  services.push(service);
  return service;
}

const cancel = (service: TestService, id: string) => service.app.request(`/orders/${id}/cancel`, { method: "POST" });

const consumed = async (service: TestService, subscription: string, outcome: string) =>
  (await service.metrics.messagesConsumed.get()).values.find(
    (value) => value.labels.subscription === subscription && value.labels.outcome === outcome,
  )?.value ?? 0;

test("an order cancelled before a worker runs it is never run: its message is dropped", async () => {
  const api = await start({ env: { ROLE: "api" } });
  const { id } = (await (await api.post(sampleOrder())).json()) as OrderJson;
  const response = await cancel(api, id);
  expect(response.status).toBe(202);
  expect(((await response.json()) as OrderJson).status).toBe("cancelled");
  // Cancelling again answers the same.
  expect((await cancel(api, id)).status).toBe(202);

  const worker = await start({
    env: { ROLE: "worker" },
    namespace: api.namespace,
    service: { keyPrefix: api.keyPrefix },
    transform: useOrderHandler("count-runs"),
  });
  await until("the queued message was dropped", async () => (await consumed(worker, "process_order", "dropped")) === 1);
  expect(await worker.testRedis.get(`runs:${id}`)).toBeNull();
  const order = await api.waitForOrder(id, () => true);
  expect(order.status).toBe("cancelled");
  expect(order.history.map((entry) => entry.status)).toEqual(["accepted", "cancelled"]);
});

test("a retrying order cancelled between attempts is not run again", async () => {
  const service = await start({ transform: useOrderHandler("fail-twice", { delays: [1500], maxAttempts: 4 }) });
  const { id } = (await (await service.post(sampleOrder())).json()) as OrderJson;
  await service.waitForOrder(id, (order) => order.status === "retrying");
  expect(((await (await cancel(service, id)).json()) as OrderJson).status).toBe("cancelled");
  await until(
    "the retry arrived and was dropped",
    async () => (await consumed(service, "process_order", "dropped")) === 1,
  );
  expect(await service.testRedis.llen(`starts:${id}`)).toBe(1);
  expect((await service.waitForOrder(id, () => true)).status).toBe("cancelled");
});

test("a running handler that honours ctx.signal ends the order cancelled, with its event and callback", async () => {
  const received: OrderJson[] = [];
  const shop = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      received.push((await request.json()) as OrderJson);
      return new Response(null, { status: 204 });
    },
  });
  try {
    const service = await start({
      env: { CALLBACK_ALLOW_PRIVATE: "true" },
      transform: useOrderHandler("wait-for-cancel"),
    });
    const callbackUrl = `http://127.0.0.1:${shop.port}/hooks`;
    const { id } = (await (await service.post({ ...sampleOrder(), callbackUrl })).json()) as OrderJson;
    await until("the handler runs", async () => (await service.testRedis.get(`runs:${id}`)) === "1");
    const response = await cancel(service, id);
    expect(response.status).toBe(202);
    expect((await response.json()) as OrderJson).toMatchObject({ status: "processing", cancelRequested: true });
    const order = await service.waitForOrder(id, (current) => current.status === "cancelled");
    expect(order.cancelRequested).toBeUndefined();
    await service.waitForOrder(id, (current) => current.callback?.status === "delivered");
    expect(received.map((body) => body.status)).toEqual(["cancelled"]);
    const published = (await service.metrics.messagesPublished.get()).values.find(
      (value) => value.labels.publication === "order_cancelled",
    );
    expect(published?.value).toBe(1);
    // Never retried: the handler ran once.
    expect(await service.testRedis.get(`runs:${id}`)).toBe("1");
  } finally {
    shop.stop(true);
  }
});

test("a running handler that ignores the signal ends completed; a completed order cannot be cancelled", async () => {
  const service = await start({ transform: useOrderHandler("wait-for-cancel") });
  const { id } = (await (await service.post({ ...sampleOrder(), customerId: "ignore-cancel" })).json()) as OrderJson;
  await until("the handler runs", async () => (await service.testRedis.get(`runs:${id}`)) === "1");
  expect(((await (await cancel(service, id)).json()) as OrderJson).cancelRequested).toBe(true);
  const order = await service.waitForOrder(id, (current) => current.status === "completed");
  expect(order.result).toEqual({ aborted: true });
  const refused = await expectProblem(await cancel(service, id), 409);
  expect(refused.detail).toContain("completed");
  await expectProblem(await cancel(service, crypto.randomUUID()), 404);
  await expectProblem(await cancel(service, "not-an-id"), 404);
});

test("a cancel requested while its handler's process died takes effect when the message comes back", async () => {
  const service = await start({ transform: useOrderHandler("count-runs") });
  const { OrderStore } = await import("../src/store/order-store");
  const orderId = Bun.randomUUIDv7();
  const store = new OrderStore(service.redis);
  await store.create(orderId, OrderStore.document(sampleOrder()), new Date().toISOString());
  // What a process that died mid-handler leaves after a cancel request reached it.
  await service.testRedis.hset(`order:${orderId}`, "status", "processing", "cancelRequested", "1");
  const message = { orderId, customerId: "c-1", items: [{ sku: "A", quantity: 1, unitPrice: 1 }], currency: "USD" };
  await service.broker.publish("order_created", message, { messageId: orderId });
  const order = await service.waitForOrder(orderId, (current) => current.status === "cancelled");
  expect(order.history.at(-1)?.status).toBe("cancelled");
  expect(await service.testRedis.get(`runs:${orderId}`)).toBeNull();
});
