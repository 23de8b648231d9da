import { afterEach, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import type { RascalConfig } from "../src/broker/topology";
import { type OrderJson, sampleOrder, startTestService, type TestService } from "./helpers/service";

let service: TestService | undefined;
let receiver: ReturnType<typeof Bun.serve> | undefined;
afterEach(async () => {
  await service?.close();
  await receiver?.stop(true);
  service = undefined;
  receiver = undefined;
});

interface Received {
  body: string;
  signature: string | null;
  answered: number;
}

/** A shop endpoint that fails its first `failures` calls. */
function startReceiver(failures: number) {
  const received: Received[] = [];
  receiver = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const answered = received.length < failures ? 500 : 204;
      received.push({ body: await request.text(), signature: request.headers.get("x-signature"), answered });
      return new Response(null, { status: answered });
    },
  });
  return { url: `http://127.0.0.1:${receiver.port}/hooks/orders`, received };
}

const fastCallbackRetries = (config: RascalConfig) => {
  const pipeline = (config.pipeline ??= {}) as { retries: Record<string, unknown> };
  pipeline.retries.deliver_callback = { delays: [100], maxAttempts: 5 };
};

test("the final order is POSTed once, signed, after the receiver failed twice", async () => {
  const shop = startReceiver(2);
  service = await startTestService({
    env: { CALLBACK_SECRET: "s3cret", CALLBACK_ALLOW_PRIVATE: "true" },
    transform: fastCallbackRetries,
  });
  const { id } = (await (await service.post({ ...sampleOrder(), callbackUrl: shop.url })).json()) as OrderJson;
  const order = await service.waitForOrder(id, (o) => o.callback?.status === "delivered");
  expect(order.status).toBe("completed");
  expect(order.callback).toEqual({ status: "delivered", attempts: 3 });

  await Bun.sleep(400);
  expect(shop.received.map((r) => r.answered)).toEqual([500, 500, 204]);
  const delivered = shop.received[2]!;
  const expected = `sha256=${createHmac("sha256", "s3cret").update(delivered.body).digest("hex")}`;
  expect(delivered.signature).toBe(expected);
  const sent = JSON.parse(delivered.body) as OrderJson;
  expect(sent.id).toBe(id);
  expect(sent.status).toBe("completed");
  expect(sent.result).toMatchObject({ total: 39.98 });
});

test("a loopback callback target is refused unless CALLBACK_ALLOW_PRIVATE is set", async () => {
  const shop = startReceiver(0);
  service = await startTestService({ transform: fastCallbackRetries });
  const { id } = (await (await service.post({ ...sampleOrder(), callbackUrl: shop.url })).json()) as OrderJson;
  const order = await service.waitForOrder(id, (o) => o.callback?.status === "refused");
  expect(order.status).toBe("completed");
  expect(order.callback).toEqual({ status: "refused", attempts: 1 });
  expect(shop.received.length).toBe(0);
});

test("a callback host that does not resolve shows as retrying, then failed, on the order", async () => {
  service = await startTestService({
    transform: (config) => {
      const pipeline = (config.pipeline ??= {}) as { retries: Record<string, unknown> };
      pipeline.retries.deliver_callback = { delays: [100], maxAttempts: 2 };
    },
  });
  // `.invalid` never resolves (RFC 6761).
  const { id } = (await (
    await service.post({ ...sampleOrder(), callbackUrl: "https://shop.invalid/hooks" })
  ).json()) as OrderJson;
  const order = await service.waitForOrder(id, (o) => o.callback?.status === "failed", 15_000);
  expect(order.status).toBe("completed");
  expect(order.callback).toEqual({ status: "failed", attempts: 2 });
});

test("an order without a callbackUrl never reaches the callback subscription; one with it does", async () => {
  const shop = startReceiver(0);
  service = await startTestService({ env: { CALLBACK_ALLOW_PRIVATE: "true" } });
  const consumed = async (subscription: string) =>
    (await service!.metrics.messagesConsumed.get()).values
      .filter((value) => value.labels.subscription === subscription)
      .reduce((sum, value) => sum + value.value, 0);
  const plain = (await (await service.post(sampleOrder())).json()) as OrderJson;
  await service.waitForOrder(plain.id, (order) => order.status === "completed");
  for (let i = 0; i < 100 && (await consumed("notify_customer")) < 1; i++) await Bun.sleep(20);
  expect(await consumed("notify_customer")).toBe(1);
  const withCallback = (await (await service.post({ ...sampleOrder(), callbackUrl: shop.url })).json()) as OrderJson;
  await service.waitForOrder(withCallback.id, (order) => order.callback?.status === "delivered");
  expect(await consumed("deliver_callback")).toBe(1);
  expect(shop.received).toHaveLength(1);
});
