import { afterEach, describe, expect, test } from "bun:test";
import { DeadLetterStore } from "../src/store/dead-letter-store";
import { type OrderJson, sampleOrder, startTestService, type TestService, useOrderHandler } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

const ADMIN = { Authorization: "Bearer test-admin-token" };

async function placeOrder(target: TestService): Promise<string> {
  const response = await target.post(sampleOrder());
  expect(response.status).toBe(202);
  return ((await response.json()) as OrderJson).id;
}

async function adminList(target: TestService) {
  const response = await target.app.request("/admin/dead-letters", { headers: ADMIN });
  expect(response.status).toBe(200);
  return ((await response.json()) as { items: Record<string, any>[] }).items;
}

describe("retry ladder", () => {
  test("a handler failing twice then succeeding completes on attempt 3, after each tier's delay", async () => {
    const delays = [300, 600];
    service = await startTestService({ transform: useOrderHandler("fail-twice", { delays, maxAttempts: 4 }) });
    const id = await placeOrder(service);

    const retrying = await service.waitForOrder(id, (order) => order.status === "retrying");
    expect(retrying.attempts).toBe(1);
    expect(retrying.error).toEqual({ message: "attempt 1 failed", permanent: false });
    expect(Date.parse(retrying.nextRetryAt!)).toBeGreaterThan(Date.parse(retrying.updatedAt as string));

    const done = await service.waitForOrder(id, (order) => order.status === "completed");
    expect(done.attempts).toBe(3);
    expect(done.result).toEqual({ succeededOn: 3 });
    expect(done.error).toBeUndefined();
    expect(done.nextRetryAt).toBeUndefined();
    expect(done.history.map((entry) => entry.status)).toEqual([
      "accepted",
      "processing",
      "retrying",
      "processing",
      "retrying",
      "processing",
      "completed",
    ]);

    // Each tier's republish is counted like any other confirmed publish.
    const published = (await service.metrics.messagesPublished.get()).values;
    const tierCount = (tier: number) =>
      published.find((v) => v.labels.publication === `process_order.retry.${tier}`)?.value;
    expect([tierCount(1), tierCount(2)]).toEqual([1, 1]);

    const starts = (await service.testRedis.lrange(`starts:${id}`, 0, -1)).map(Number);
    expect(starts.length).toBe(3);
    const gaps = [starts[1]! - starts[0]!, starts[2]! - starts[1]!];
    // Each retry waits at least its tier's delay; the upper bound only catches a wrong tier.
    expect(gaps[0]).toBeGreaterThanOrEqual(delays[0]! - 20);
    expect(gaps[0]).toBeLessThan(delays[0]! + 2000);
    expect(gaps[1]).toBeGreaterThanOrEqual(delays[1]! - 20);
    expect(gaps[1]).toBeLessThan(delays[1]! + 2000);
  });

  test("always failing: dead-lettered after exactly maxAttempts, listed; a replay completes once fixed", async () => {
    service = await startTestService({
      env: { ADMIN_TOKEN: "test-admin-token" },
      transform: useOrderHandler("fail-until-fixed", { delays: [50], maxAttempts: 3 }),
    });
    const id = await placeOrder(service);
    const dead = await service.waitForOrder(id, (order) => order.status === "dead_lettered");
    expect(dead.attempts).toBe(3);
    expect(dead.error).toEqual({ message: "downstream unavailable", permanent: false });
    expect(await service.testRedis.get(`runs:${id}`)).toBe("3");

    let items = await adminList(service);
    for (let i = 0; items.length === 0 && i < 100; i++) {
      await Bun.sleep(50);
      items = await adminList(service);
    }
    expect(items.length).toBe(1);
    const entry = items[0]!;
    expect(entry).toMatchObject({
      orderId: id,
      messageId: id,
      queue: "orders.process",
      reason: "max_attempts",
      attempts: 3,
      error: "downstream unavailable",
    });
    expect(entry.payload).toMatchObject({ orderId: id, customerId: "c-42" });
    expect(typeof entry.deadLetteredAt).toBe("string");

    await service.testRedis.set("fixed", "1");
    const replay = await service.app.request(`/admin/dead-letters/${entry.id}/replay`, {
      method: "POST",
      headers: ADMIN,
    });
    expect(replay.status).toBe(202);
    const done = await service.waitForOrder(id, (order) => order.status === "completed");
    expect(done.attempts).toBe(1);
    const statuses = done.history.map((h) => h.status);
    expect(statuses.filter((s) => s === "dead_lettered").length).toBe(1);
    expect(statuses.slice(-3)).toEqual(["replayed", "processing", "completed"]);
    expect(await adminList(service)).toEqual([]);
  });

  test("PermanentError dead-letters after one attempt, without retry", async () => {
    service = await startTestService({
      env: { ADMIN_TOKEN: "test-admin-token" },
      transform: useOrderHandler("permanent", { delays: [50], maxAttempts: 5 }),
    });
    const id = await placeOrder(service);
    const dead = await service.waitForOrder(id, (order) => order.status === "dead_lettered");
    expect(dead.attempts).toBe(1);
    expect(dead.error).toEqual({ message: "card declined", permanent: true });
    await Bun.sleep(300);
    expect(await service.testRedis.get(`runs:${id}`)).toBe("1");
    const waitForEntry = async () => {
      for (let i = 0; i < 100; i++) {
        const items = await adminList(service!);
        if (items.length > 0) return items;
        await Bun.sleep(50);
      }
      return [];
    };
    expect((await waitForEntry())[0]).toMatchObject({ orderId: id, reason: "permanent", attempts: 1 });
  });

  test("ctx.publish to a publication rascal.json does not declare is a permanent error, not retried", async () => {
    service = await startTestService({
      transform: useOrderHandler("publish-unknown", { delays: [50], maxAttempts: 5 }),
    });
    const id = await placeOrder(service);
    const dead = await service.waitForOrder(id, (order) => order.status === "dead_lettered");
    expect(dead.error).toEqual({
      message: 'ctx.publish: no publication "order_shipped_typo" in rascal.json\'s publications',
      permanent: true,
    });
    await Bun.sleep(300);
    expect(await service.testRedis.get(`runs:${id}`)).toBe("1");
  });
});

describe("admin API", () => {
  test("without the right token: 401; without ADMIN_TOKEN configured: 404", async () => {
    service = await startTestService({ env: { ADMIN_TOKEN: "test-admin-token" } });
    expect((await service.app.request("/admin/dead-letters")).status).toBe(401);
    const wrong = await service.app.request("/admin/dead-letters", { headers: { Authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("content-type")).toContain("application/problem+json");
    expect((await service.app.request("/admin/dead-letters/replay", { method: "POST" })).status).toBe(401);
    expect((await service.app.request("/admin/dead-letters/0123", { method: "DELETE" })).status).toBe(401);
    expect(
      (await service.app.request("/admin/dead-letters", { headers: { Authorization: "Bearer TEST-ADMIN-TOKEN" } }))
        .status,
    ).toBe(401);
    // The scheme's name is case-insensitive, the token is not.
    expect(
      (await service.app.request("/admin/dead-letters", { headers: { Authorization: "bearer test-admin-token" } }))
        .status,
    ).toBe(200);
    await service.close();

    service = await startTestService();
    expect((await service.app.request("/admin/dead-letters", { headers: ADMIN })).status).toBe(404);
  });

  test("delete removes a dead letter; replay-all replays every one", async () => {
    service = await startTestService({
      env: { ADMIN_TOKEN: "test-admin-token" },
      transform: useOrderHandler("fail-until-fixed", { delays: [50], maxAttempts: 1 }),
    });
    const ids = [await placeOrder(service), await placeOrder(service), await placeOrder(service)];
    for (const id of ids) await service.waitForOrder(id, (order) => order.status === "dead_lettered");
    let items: Record<string, any>[] = [];
    for (let i = 0; i < 100 && items.length < 3; i++) {
      items = await adminList(service);
      await Bun.sleep(50);
    }
    expect(items.length).toBe(3);

    const removed = await service.app.request(`/admin/dead-letters/${items[0]!.id}`, {
      method: "DELETE",
      headers: ADMIN,
    });
    expect(removed.status).toBe(204);
    expect(
      (await service.app.request(`/admin/dead-letters/${items[0]!.id}`, { method: "DELETE", headers: ADMIN })).status,
    ).toBe(404);

    // One more, left by a subscription rascal.json no longer declares: it cannot go, the others still do.
    const orphan = {
      ...(await new DeadLetterStore(service.testRedis).get(items[1]!.id))!,
      subscription: "retired_subscription",
    };
    orphan.id = DeadLetterStore.idFor(orphan.subscription, orphan.messageId);
    await new DeadLetterStore(service.testRedis).save(orphan);

    await service.testRedis.set("fixed", "1");
    const all = await service.app.request("/admin/dead-letters/replay", { method: "POST", headers: ADMIN });
    expect(all.status).toBe(202);
    const result = (await all.json()) as { replayed: number; failed: { id: string; detail: string }[] };
    expect(result.replayed).toBe(2);
    expect(result.failed).toEqual([
      {
        id: orphan.id,
        detail: expect.stringContaining('"retired_subscription", which rascal.json no longer declares'),
      },
    ]);
    expect((await adminList(service)).map((item) => item.id)).toEqual([orphan.id]);
    for (const item of items.slice(1))
      await service.waitForOrder(item.orderId, (order) => order.status === "completed");
    const deleted = (await (await service.getOrder(items[0]!.orderId)).json()) as OrderJson;
    expect(deleted.status).toBe("dead_lettered");
  });
});
