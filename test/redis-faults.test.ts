import { afterEach, beforeEach, expect, test } from "bun:test";
import amqp from "amqplib";
import { ORDER_PUBLICATION } from "../src/broker/topology";
import { OrderStore } from "../src/store/order-store";
import { until } from "./helpers/eventually";
import { PrivateRedis } from "./helpers/private-redis";
import {
  expectProblem,
  type OrderJson,
  orderRecordCount,
  sampleOrder,
  startTestService,
  type TestService,
  useOrderHandler,
} from "./helpers/service";
import { TcpProxy } from "./helpers/tcp-proxy";

// These tests stop Redis: a private redis-server (with AOF, so a restart keeps the orders).
let redis: PrivateRedis;
let service: TestService;
beforeEach(async () => {
  redis = new PrivateRedis({ appendonly: true });
  await redis.start();
  service = await startTestService({
    // Redis errors are the point here: keep them out of the test output.
    env: { REDIS_URL: redis.url, LOG_LEVEL: "fatal" },
    transform: useOrderHandler("count-runs"),
  });
});
afterEach(async () => {
  await service.close();
  await redis.destroy();
});

const readyz = async () => (await service.app.request("/readyz")).status;

/** Messages ready (delivered ones not counted) in this test's order queue on the shared broker. */
async function readyOrderMessages(): Promise<number> {
  const connection = await amqp.connect("amqp://guest:guest@127.0.0.1:5672");
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(`${service.namespace}:orders.process`)).messageCount;
  } finally {
    await connection.close();
  }
}

test("Redis down: orders 503 with Retry-After, reads 503, not ready; accepted again once back", async () => {
  await redis.stop();
  await until("readyz 503", async () => (await readyz()) === 503);
  const refused = await service.post(sampleOrder(), { "Idempotency-Key": "while-down" });
  await expectProblem(refused, 503);
  expect(refused.headers.get("retry-after")).toBeTruthy();
  await expectProblem(await service.getOrder(Bun.randomUUIDv7()), 503);

  await redis.start();
  await until("readyz 200", async () => (await readyz()) === 200);
  // Nothing of the refused request was kept: the same key now creates the order.
  const accepted = await service.post(sampleOrder(), { "Idempotency-Key": "while-down" });
  expect(accepted.status).toBe(202);
  expect(accepted.headers.get("idempotent-replayed")).toBeNull();
  const { id } = (await accepted.json()) as OrderJson;
  await service.waitForOrder(id, (order) => order.status === "completed");
});

test("a message delivered while Redis is down is held without an ack and processed once it is back", async () => {
  const orderId = Bun.randomUUIDv7();
  await new OrderStore(service.redis).create(
    orderId,
    OrderStore.document({ ...sampleOrder() }),
    new Date().toISOString(),
  );
  await redis.stop();

  const message = { orderId, customerId: "c-1", items: [{ sku: "A", quantity: 1, unitPrice: 1 }], currency: "USD" };
  await service.broker.publish(ORDER_PUBLICATION, message, { messageId: orderId });
  await until("the worker took the message", async () => (await readyOrderMessages()) === 0);
  // Give the worker time to get it wrong (ack without a dedup decision) before Redis returns.
  await Bun.sleep(1000);

  await redis.start();
  const order = await service.waitForOrder(orderId, (o) => o.status === "completed");
  expect(order.attempts).toBe(1);
  expect(await service.testRedis.get(`runs:${orderId}`)).toBe("1");
});

test("a handler that finishes while Redis is down: its completion is recorded once it is back, no rerun", async () => {
  const { id } = (await (await service.post({ ...sampleOrder(), customerId: "hold-800" })).json()) as OrderJson;
  await until("handler started", async () => (await service.testRedis.get(`runs:${id}`)) === "1");
  await redis.stop();
  // The handler ends during the outage; its result waits for Redis.
  await Bun.sleep(1500);

  await redis.start();
  const order = await service.waitForOrder(id, (o) => o.status === "completed");
  expect(order.attempts).toBe(1);
  expect(order.history.map((entry) => entry.status)).toEqual(["accepted", "processing", "completed"]);
  expect(await service.testRedis.get(`runs:${id}`)).toBe("1");
});

test("an order whose record was written but whose answer was lost is removed once Redis answers again", async () => {
  // A second service reaches the same Redis through a relay that can lose Redis's answers.
  const relay = new TcpProxy("127.0.0.1", redis.port);
  const behindRelay = await startTestService({
    namespace: service.namespace,
    env: { REDIS_URL: `redis://127.0.0.1:${relay.port}`, ROLE: "api", LOG_LEVEL: "fatal" },
    service: { keyPrefix: service.keyPrefix },
  });
  try {
    // One order first, so that Redis already knows the scripts and runs the next one at once.
    expect((await behindRelay.post(sampleOrder())).status).toBe(202);
    const before = await orderRecordCount(service);
    relay.mute();
    const refused = await behindRelay.post(sampleOrder(), { "Idempotency-Key": "answer-lost" });
    await expectProblem(refused, 503);
    // Redis did run the create script: the record and the key are there for now.
    expect(await orderRecordCount(service)).toBe(before + 1);

    relay.reset();
    await until("the 503'd order's record is removed", async () => (await orderRecordCount(service)) === before);
    expect(await service.testRedis.keys(`${service.keyPrefix}idem:*`)).toEqual([]);
    // The key is free again: the client's retry creates the order.
    const retried = await behindRelay.post(sampleOrder(), { "Idempotency-Key": "answer-lost" });
    expect(retried.status).toBe(202);
    expect(retried.headers.get("idempotent-replayed")).toBeNull();
  } finally {
    await behindRelay.close();
    relay.close();
  }
});
