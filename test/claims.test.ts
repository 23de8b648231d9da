import { afterEach, expect, test } from "bun:test";
import { ORDER_PUBLICATION } from "../src/broker/topology";
import { MessageLedger, type MessageRef } from "../src/store/message-ledger";
import { OrderStore } from "../src/store/order-store";
import { until } from "./helpers/eventually";
import { sampleOrder, startTestService, type TestService, useOrderHandler } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

test("a handler slower than the claim lease keeps its claim: a second copy waits and is skipped", async () => {
  // Lease 600 ms, handler 2 s: only the heartbeat keeps the second copy from starting it.
  service = await startTestService({ transform: useOrderHandler("count-runs"), service: { leaseMs: 600 } });
  const orderId = Bun.randomUUIDv7();
  await new OrderStore(service.redis).create(
    orderId,
    OrderStore.document({ ...sampleOrder() }),
    new Date().toISOString(),
  );
  const message = {
    orderId,
    customerId: "c-1",
    items: [{ sku: "A", quantity: 1, unitPrice: 1 }],
    currency: "USD",
    holdMs: 2000,
  };
  for (const _copy of [1, 2]) {
    await service.broker.publish(ORDER_PUBLICATION, message, { messageId: orderId });
  }
  await service.waitForOrder(orderId, (order) => order.status === "completed");
  await until("the second copy was skipped", async () =>
    (await service!.metrics.messagesConsumed.get()).values.some((v) => v.labels.outcome === "duplicate" && v.value > 0),
  );
  expect(await service.testRedis.get(`runs:${orderId}`)).toBe("1");
  const order = await service.waitForOrder(orderId, () => true);
  expect(order.attempts).toBe(1);
});

test("a claim can only be extended, released or finished by the delivery that holds it", async () => {
  service = await startTestService();
  const ledger = new MessageLedger(service.redis, "test-process", 100);
  // A live process: its claims are only taken over once their lease runs out.
  ledger.startAliveSignal();
  const leaseKey = "lease:process_order:m-1";
  const first: MessageRef = { subscription: "process_order", messageId: "m-1", owner: ledger.newOwner() };
  expect(await ledger.claim(first, new Date().toISOString())).toEqual({ kind: "run", attempt: 1 });

  // The first holder stalls past its lease; a second delivery takes the message over.
  await until("the first lease expired", async () => (await service!.testRedis.exists(leaseKey)) === 0);
  const second: MessageRef = { ...first, owner: ledger.newOwner() };
  expect(await ledger.claim(second, new Date().toISOString())).toEqual({ kind: "run", attempt: 2 });

  expect(await ledger.extend(first)).toBe(false);
  await ledger.release(first);
  await ledger.finish(first, "retrying", new Date().toISOString(), {});
  expect(await service.testRedis.get(leaseKey)).toBe(second.owner!);
  expect(await ledger.claim({ ...first, owner: ledger.newOwner() }, new Date().toISOString())).toEqual({
    kind: "busy",
    holder: second.owner!,
  });

  await ledger.release(second);
  expect(await service.testRedis.exists(leaseKey)).toBe(0);
  await ledger.stopAliveSignal();
});

test("the claim of a process that stopped signalling it is alive is taken over before its lease ends", async () => {
  service = await startTestService();
  const crashed = new MessageLedger(service.redis, "crashed-process", 60_000);
  const survivor = new MessageLedger(service.redis, "surviving-process", 60_000);
  crashed.startAliveSignal();
  const ref: MessageRef = { subscription: "process_order", messageId: "m-2", owner: crashed.newOwner() };
  expect(await crashed.claim(ref, new Date().toISOString())).toEqual({ kind: "run", attempt: 1 });

  const retry = { ...ref, owner: survivor.newOwner() };
  expect(await survivor.claim(retry, new Date().toISOString())).toEqual({ kind: "busy", holder: ref.owner! });
  // The process dies without a word: its alive key is gone, its 60 s lease is still there.
  await crashed.stopAliveSignal();
  expect(await service.testRedis.exists("lease:process_order:m-2")).toBe(1);
  expect(await survivor.claim(retry, new Date().toISOString())).toEqual({ kind: "run", attempt: 2 });
});
