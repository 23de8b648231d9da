import { afterEach, expect, test } from "bun:test";
import { ORDER_PUBLICATION } from "../src/broker/topology";
import { type OrderJson, sampleOrder, startTestService, type TestService } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

const ADMIN = { Authorization: "Bearer invalid-content-admin" };

async function publishRaw(target: TestService, body: Buffer, messageId: string) {
  await target.broker.publish(ORDER_PUBLICATION, body, { messageId, contentType: "application/json" });
}

async function waitForDeadLetters(target: TestService, count: number) {
  for (let i = 0; i < 200; i++) {
    const { items } = (await (await target.app.request("/admin/dead-letters", { headers: ADMIN })).json()) as {
      items: Record<string, any>[];
    };
    if (items.length >= count) return items;
    await Bun.sleep(25);
  }
  throw new Error(`fewer than ${count} dead letters recorded`);
}

test("unparseable and non-order messages go to the dead letters; the consumer keeps going", async () => {
  service = await startTestService({ env: { ADMIN_TOKEN: "invalid-content-admin" } });
  await publishRaw(service, Buffer.from("{ this is not json"), "broken-1");
  await publishRaw(service, Buffer.from(JSON.stringify({ hello: "world" })), "not-an-order-1");

  const items = await waitForDeadLetters(service, 2);
  const byMessage = Object.fromEntries(items.map((item) => [item.messageId, item]));
  expect(byMessage["broken-1"]).toMatchObject({
    reason: "invalid_content",
    queue: "orders.process",
    payload: "{ this is not json",
    attempts: 0,
  });
  expect(byMessage["not-an-order-1"]).toMatchObject({ reason: "invalid_content", payload: { hello: "world" } });
  expect(byMessage["not-an-order-1"]!.error).toContain("not an order message");

  const response = await service.post(sampleOrder());
  const { id } = (await response.json()) as OrderJson;
  await service.waitForOrder(id, (order) => order.status === "completed");
  const outcomes = (await service.metrics.messagesConsumed.get()).values.filter(
    (v) => v.labels.subscription === "process_order",
  );
  expect(outcomes.find((v) => v.labels.outcome === "dead_lettered")?.value).toBe(2);
});
