import { afterEach, expect, test } from "bun:test";
import { expectProblem, type OrderJson, sampleOrder, startTestService, type TestService } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

interface BatchItem {
  status: number;
  order?: OrderJson;
  replayed?: boolean;
  problem?: { status: number; detail: string; errors?: { path: string }[] };
}

const postBatch = (body: unknown, headers: Record<string, string> = {}) =>
  service!.app.request("/orders/batch", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

test("each order of a batch is accepted or refused on its own, answered in order; accepted ones complete", async () => {
  service = await startTestService();
  const refused = { ...sampleOrder(), items: [{ sku: "SKU-1", quantity: 1, unitPrice: 1.005 }] };
  const response = await postBatch({ orders: [sampleOrder(), refused, { ...sampleOrder(), customerId: "c-43" }] });
  expect(response.status).toBe(200);
  const { items } = (await response.json()) as { items: BatchItem[] };
  expect(items.map((item) => item.status)).toEqual([202, 422, 202]);
  expect(items[1]!.problem?.errors?.map((error) => error.path)).toEqual(["items.0.unitPrice"]);
  expect(items[2]!.order?.customerId).toBe("c-43");
  for (const item of [items[0]!, items[2]!]) {
    expect(item.order?.status).toBe("accepted");
    await service.waitForOrder(item.order!.id, (order) => order.status === "completed");
  }
});

test("a batch repeated with its Idempotency-Key replays each order's first answer", async () => {
  service = await startTestService({ env: { ROLE: "api" } });
  const batch = { orders: [sampleOrder(), { ...sampleOrder(), customerId: "c-2" }] };
  const key = { "Idempotency-Key": `batch-${crypto.randomUUID()}` };
  const first = (await (await postBatch(batch, key)).json()) as { items: BatchItem[] };
  const again = (await (await postBatch(batch, key)).json()) as { items: BatchItem[] };
  expect(again.items.map((item) => item.order?.id)).toEqual(first.items.map((item) => item.order?.id));
  expect(again.items.map((item) => item.replayed)).toEqual([true, true]);
  // The key's orders are its own: the same key on POST /orders is a different request.
  const single = await service.post(sampleOrder(), key);
  expect(single.status).toBe(202);
  expect(((await single.json()) as OrderJson).id).not.toBe(first.items[0]!.order?.id);
  const orders = (await service.testRedis.keys(`${service.keyPrefix}order:*`)).filter(
    (name) => !name.endsWith(":history"),
  );
  expect(orders).toHaveLength(3);
});

test("a body that is not 1-100 orders gets the 4xx of POST /orders and accepts nothing", async () => {
  service = await startTestService({ env: { ROLE: "api" } });
  await expectProblem(await postBatch({ orders: [] }), 422);
  await expectProblem(await postBatch({ orders: Array.from({ length: 101 }, sampleOrder) }), 422);
  await expectProblem(await postBatch([sampleOrder()]), 422);
  await expectProblem(await postBatch({ orders: [sampleOrder()], extra: 1 }), 422);
  await expectProblem(await postBatch("{not json"), 400);
  await expectProblem(await postBatch({ orders: [sampleOrder()] }, { "Content-Type": "text/plain" }), 415);
  expect(await service.testRedis.keys(`${service.keyPrefix}order:*`)).toEqual([]);
});
