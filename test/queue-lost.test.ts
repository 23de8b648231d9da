import { afterEach, expect, test } from "bun:test";
import amqp from "amqplib";
import { until } from "./helpers/eventually";
import { type OrderJson, sampleOrder, startTestService, type TestService } from "./helpers/service";
import { AMQP_URL } from "./helpers/temp-queue";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

async function deleteQueue(queue: string): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  try {
    await (await connection.createChannel()).deleteQueue(queue);
  } finally {
    await connection.close();
  }
}

const notified = async (target: TestService) =>
  (await target.metrics.messagesConsumed.get()).values.find(
    (v) => v.labels.subscription === "notify_customer" && v.labels.outcome === "completed",
  )?.value ?? 0;

test("a subscription whose queue is deleted stops alone and comes back with its queue and bindings", async () => {
  service = await startTestService();
  const target = service;
  await deleteQueue(`${target.namespace}:events.notify_customer`);

  // The orders keep flowing while one subscription has no queue.
  const { id } = (await (await target.post(sampleOrder())).json()) as OrderJson;
  expect((await target.waitForOrder(id, (order) => order.status === "completed")).status).toBe("completed");

  // Not ready while a subscription is not consumed (the broker's cancel may come after the
  // order completed); then the queue is declared again with its binding, and consumed.
  await until(
    "the lost subscription shows in /readyz",
    async () => (await target.app.request("/readyz")).status === 503,
  );
  await until("all subscriptions are consumed again", async () => (await target.app.request("/readyz")).status === 200);
  const before = await notified(target);
  const next = (await (await target.post(sampleOrder())).json()) as OrderJson;
  await target.waitForOrder(next.id, (order) => order.status === "completed");
  await until("the next order's event reached notify_customer", async () => (await notified(target)) > before);
});
