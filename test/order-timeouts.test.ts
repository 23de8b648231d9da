import { afterEach, expect, test } from "bun:test";
import type { Publisher } from "../src/broker/broker";
import type { PublishOptions } from "../src/broker/publications";
import { OrderTimeouts, TIMEOUT_BATCH_WINDOW_MS } from "../src/intake/order-timeouts";
import { createLogger } from "../src/log";
import { type OrderJson, sampleOrder, startTestService, type TestService, useOrderHandler } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

function recordingPublisher() {
  const published: { publication: string; payload: unknown; options: PublishOptions }[] = [];
  const publisher = {
    publish: async (publication: string, payload: unknown, options: PublishOptions) => {
      published.push({ publication, payload, options });
    },
  } as unknown as Publisher;
  return { publisher, published };
}

test("orders accepted within the batch window share one timeout message; a lone order keeps its own", async () => {
  const { publisher, published } = recordingPublisher();
  const timeouts = new OrderTimeouts(publisher, createLogger("silent"));
  timeouts.schedule({ orderId: "order-1", requestId: "req-1", headers: { "x-request-id": "req-1" } });
  await new Promise((resolve) => setImmediate(resolve));
  for (const n of [2, 3])
    timeouts.schedule({ orderId: `order-${n}`, requestId: `req-${n}`, headers: { "x-request-id": `req-${n}` } });
  expect(published).toHaveLength(0);
  await Bun.sleep(TIMEOUT_BATCH_WINDOW_MS * 2);
  expect(published).toHaveLength(1);
  expect(published[0]!.payload).toEqual({
    orders: ["1", "2", "3"].map((n) => ({ orderId: `order-${n}`, requestId: `req-${n}` })),
  });

  timeouts.schedule({ orderId: "order-4", requestId: "req-4", headers: { "x-request-id": "req-4" } });
  await Bun.sleep(TIMEOUT_BATCH_WINDOW_MS * 2);
  expect(published).toHaveLength(2);
  expect(published[1]!.payload).toEqual({ orderId: "order-4" });
  expect(published[1]!.options).toMatchObject({ messageId: "order-4:timeout", headers: { "x-request-id": "req-4" } });
});

test("flush sends the waiting timeouts at once (shutdown)", async () => {
  const { publisher, published } = recordingPublisher();
  const timeouts = new OrderTimeouts(publisher, createLogger("silent"));
  timeouts.schedule({ orderId: "order-1", requestId: "req-1", headers: {} });
  timeouts.schedule({ orderId: "order-2", requestId: "req-2", headers: {} });
  await timeouts.flush();
  expect(published.map((message) => message.payload)).toEqual([
    {
      orders: [
        { orderId: "order-1", requestId: "req-1" },
        { orderId: "order-2", requestId: "req-2" },
      ],
    },
  ]);
  await Bun.sleep(TIMEOUT_BATCH_WINDOW_MS * 2);
  expect(published).toHaveLength(1);
});

test("unfinished orders end expired after ORDER_TIMEOUT_MS, alone or sharing a timeout message", async () => {
  service = await startTestService({
    env: { ORDER_TIMEOUT_MS: "400" },
    transform: useOrderHandler("fail-until-fixed", { delays: [60_000] }),
  });
  const responses = await Promise.all(Array.from({ length: 10 }, () => service!.post(sampleOrder())));
  const ids = await Promise.all(responses.map(async (response) => ((await response.json()) as OrderJson).id));
  for (const id of ids) {
    const order = await service.waitForOrder(id, (candidate) => candidate.status === "expired");
    expect(order.history.at(-1)?.status).toBe("expired");
  }
});

test("a shorter ORDER_TIMEOUT_MS is not held back by longer timeouts queued before it", async () => {
  // An intake still on a 60 s timeout (before a restart lowered it, or another replica)...
  const longer = await startTestService({ env: { ROLE: "api", ORDER_TIMEOUT_MS: "60000" } });
  try {
    expect((await longer.post(sampleOrder())).status).toBe(202);
    // ...and one on 300 ms in the same topology, whose order never finishes.
    service = await startTestService({
      namespace: longer.namespace,
      env: { ORDER_TIMEOUT_MS: "300" },
      transform: useOrderHandler("fail-until-fixed", { delays: [60_000] }),
    });
    const { id } = (await (await service.post(sampleOrder())).json()) as OrderJson;
    const order = await service.waitForOrder(id, (candidate) => candidate.status === "expired", 5000);
    expect(order.history.at(-1)).toMatchObject({ status: "expired", detail: "not finished within ORDER_TIMEOUT_MS" });
  } finally {
    await longer.close();
  }
});
