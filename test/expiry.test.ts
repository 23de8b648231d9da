import { afterEach, expect, test } from "bun:test";
import { type OrderJson, sampleOrder, startTestService, type TestService, useOrderHandler } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

test("an order unfinished after ORDER_TIMEOUT_MS ends expired and is not processed afterwards", async () => {
  // The handler fails and waits 1.5 s for its retry; the order times out after 300 ms.
  service = await startTestService({
    env: { ORDER_TIMEOUT_MS: "300" },
    transform: useOrderHandler("fail-until-fixed", { delays: [1500], maxAttempts: 3 }),
  });
  const { id } = (await (await service.post(sampleOrder())).json()) as OrderJson;
  const expired = await service.waitForOrder(id, (order) => order.status === "expired");
  expect(expired.attempts).toBe(1);
  expect(expired.history.at(-1)).toMatchObject({ status: "expired", detail: "not finished within ORDER_TIMEOUT_MS" });

  // The retry still arrives later: it must be dropped, not run.
  await service.testRedis.set("fixed", "1");
  for (let i = 0; i < 200; i++) {
    const dropped = (await service.metrics.messagesConsumed.get()).values.find(
      (v) => v.labels.subscription === "process_order" && v.labels.outcome === "dropped",
    );
    if (dropped?.value) break;
    await Bun.sleep(25);
  }
  const dropped = (await service.metrics.messagesConsumed.get()).values.find(
    (v) => v.labels.subscription === "process_order" && v.labels.outcome === "dropped",
  );
  expect(dropped?.value).toBe(1);
  expect(await service.testRedis.get(`runs:${id}`)).toBe("1");
  const final = (await (await service.getOrder(id)).json()) as OrderJson;
  expect(final.status).toBe("expired");
});

test("an order that completes in time is not touched by its timeout", async () => {
  service = await startTestService({ env: { ORDER_TIMEOUT_MS: "200" } });
  const { id } = (await (await service.post(sampleOrder())).json()) as OrderJson;
  await service.waitForOrder(id, (order) => order.status === "completed");
  // Wait until the timeout message itself was consumed.
  for (let i = 0; i < 200; i++) {
    const consumed = (await service.metrics.messagesConsumed.get()).values.find(
      (v) => v.labels.subscription === "expire_orders",
    );
    if (consumed?.value === 1) break;
    await Bun.sleep(25);
  }
  expect(
    (await service.metrics.messagesConsumed.get()).values.find((v) => v.labels.subscription === "expire_orders")?.value,
  ).toBe(1);
  const order = (await (await service.getOrder(id)).json()) as OrderJson;
  expect(order.status).toBe("completed");
  expect(order.history.map((h) => h.status)).toEqual(["accepted", "processing", "completed"]);
});

test("a replayed order gets ORDER_TIMEOUT_MS again: the timeout from its acceptance no longer ends it", async () => {
  const admin = { Authorization: "Bearer test-admin-token" };
  service = await startTestService({
    // The replayed run holds until shutdown: a short drain keeps the clean-up quick.
    env: { ORDER_TIMEOUT_MS: "1500", ADMIN_TOKEN: "test-admin-token", SHUTDOWN_TIMEOUT_MS: "300" },
    transform: useOrderHandler("permanent-then-hang"),
  });
  const { id } = (await (await service.post(sampleOrder())).json()) as OrderJson;
  await service.waitForOrder(id, (order) => order.status === "dead_lettered");
  // Replay close to the end of the first timeout, which then passes while the replay runs.
  await Bun.sleep(1000);
  const { items } = (await (await service.app.request("/admin/dead-letters", { headers: admin })).json()) as {
    items: { id: string }[];
  };
  expect(
    (await service.app.request(`/admin/dead-letters/${items[0]!.id}/replay`, { method: "POST", headers: admin }))
      .status,
  ).toBe(202);

  const expired = await service.waitForOrder(id, (order) => order.status === "expired");
  const at = (status: string) => Date.parse(expired.history.findLast((entry) => entry.status === status)!.at);
  expect(at("expired") - at("replayed")).toBeGreaterThanOrEqual(1400);
  expect(expired.history.map((entry) => entry.status).slice(-3)).toEqual(["replayed", "processing", "expired"]);
});
