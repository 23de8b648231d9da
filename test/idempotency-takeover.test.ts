import { afterEach, expect, test } from "bun:test";
import { ORDER_PUBLICATION } from "../src/broker/topology";
import { OrderStore } from "../src/store/order-store";
import { until } from "./helpers/eventually";
import {
  expectProblem,
  type OrderJson,
  sampleOrder,
  startTestService,
  type TestService,
  useOrderHandler,
} from "./helpers/service";

/**
 * A request that recorded its order and then died with its process (before or after the
 * publish) leaves its Idempotency-Key `pending`. Its client's retry must not get 409 for the
 * key's whole 24 h: once the dead request's lease is over, the retry takes the key over.
 */
const LEASE_MS = 300;
const KEY = "retry-after-crash";

const services: TestService[] = [];
afterEach(async () => {
  for (const service of services.splice(0).reverse()) await service.close();
});

async function start(options: Parameters<typeof startTestService>[0] = {}): Promise<TestService> {
  const service = await startTestService({ transform: useOrderHandler("count-runs"), ...options });
  services.push(service);
  return service;
}

/** What the intake leaves in Redis when its process dies right after recording the order. */
async function orderOfDeadRequest(service: TestService): Promise<{ orderId: string; createdAt: string }> {
  const orderId = Bun.randomUUIDv7();
  const createdAt = new Date().toISOString();
  const claim = OrderStore.idempotencyClaim(KEY, sampleOrder());
  const created = await new OrderStore(service.redis, LEASE_MS).create(
    orderId,
    OrderStore.document(sampleOrder()),
    createdAt,
    claim,
  );
  expect(created.kind).toBe("created");
  return { orderId, createdAt };
}

/** The message the dead request may have published before it died. */
async function publishAsDeadRequest(service: TestService, orderId: string, createdAt: string): Promise<void> {
  const message = { orderId, ...OrderStore.document(sampleOrder()), createdAt };
  await service.broker.publish(ORDER_PUBLICATION, message, { messageId: orderId });
}

const retry = (service: TestService) => service.post(sampleOrder(), { "Idempotency-Key": KEY });

test("died before publishing: 409 while its lease runs, then the retry publishes the same order", async () => {
  const service = await start();
  const { orderId } = await orderOfDeadRequest(service);

  await expectProblem(await retry(service), 409);
  await Bun.sleep(LEASE_MS + 100);

  const response = await retry(service);
  expect(response.status).toBe(202);
  expect(response.headers.get("idempotent-replayed")).toBe("true");
  expect(((await response.json()) as OrderJson).id).toBe(orderId);
  const order = await service.waitForOrder(orderId, (current) => current.status === "completed");
  expect(order.attempts).toBe(1);

  // The key is finished now: further repeats replay at once.
  const again = await retry(service);
  expect(again.status).toBe(202);
  expect(((await again.json()) as OrderJson).id).toBe(orderId);
});

test("died after publishing, order already processed: the retry replays it without publishing again", async () => {
  const service = await start();
  const { orderId, createdAt } = await orderOfDeadRequest(service);
  await publishAsDeadRequest(service, orderId, createdAt);
  await service.waitForOrder(orderId, (order) => order.status === "completed");
  await Bun.sleep(LEASE_MS + 100);

  // The dead request's own publish is counted too: the retry must add none.
  const orderPublishes = async () =>
    (await service.metrics.messagesPublished.get()).values
      .filter((value) => value.labels.publication === ORDER_PUBLICATION)
      .reduce((sum, value) => sum + value.value, 0);
  const publishedBefore = await orderPublishes();
  expect(publishedBefore).toBe(1);
  const response = await retry(service);
  expect(response.status).toBe(202);
  expect(((await response.json()) as OrderJson).id).toBe(orderId);
  expect(await orderPublishes()).toBe(publishedBefore);
  expect(await service.testRedis.get(`runs:${orderId}`)).toBe("1");
});

test("died after publishing, message still queued: both copies arrive and the handler runs once", async () => {
  // Intake alone first, so that the dead request's message waits in the queue.
  const api = await start({ env: { ROLE: "api" } });
  const { orderId, createdAt } = await orderOfDeadRequest(api);
  await publishAsDeadRequest(api, orderId, createdAt);
  await Bun.sleep(LEASE_MS + 100);

  const response = await retry(api);
  expect(response.status).toBe(202);
  expect(((await response.json()) as OrderJson).id).toBe(orderId);

  const worker = await start({
    env: { ROLE: "worker" },
    namespace: api.namespace,
    service: { keyPrefix: api.keyPrefix },
  });
  await api.waitForOrder(orderId, (order) => order.status === "completed");
  await until("the second copy was skipped", async () =>
    (await worker.metrics.messagesConsumed.get()).values.some(
      (value) => value.labels.outcome === "duplicate" && value.value === 1,
    ),
  );
  expect(await api.testRedis.get(`runs:${orderId}`)).toBe("1");
});

test("the dead request's late clean-up after a 503 leaves an order its retry took over", async () => {
  // No workers: the order stays `accepted`, the state in which a clean-up would remove it.
  const api = await start({ env: { ROLE: "api" } });
  const { orderId } = await orderOfDeadRequest(api);
  await Bun.sleep(LEASE_MS + 100);
  expect((await retry(api)).status).toBe(202);

  // The first request was not dead after all: its publish failed and it now removes its order.
  const claim = OrderStore.idempotencyClaim(KEY, sampleOrder());
  expect(await new OrderStore(api.redis).reject(orderId, claim)).toBe("superseded");
  const order = (await (await api.getOrder(orderId)).json()) as OrderJson;
  expect(order.status).toBe("accepted");
  const again = await retry(api);
  expect(again.status).toBe(202);
  expect(((await again.json()) as OrderJson).id).toBe(orderId);
});
