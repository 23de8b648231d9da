import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { expectProblem, type OrderJson, sampleOrder, startTestService, type TestService } from "./helpers/service";

let service: TestService;
beforeEach(async () => {
  service = await startTestService();
});
afterEach(async () => {
  await service.close();
});

describe("POST /orders → GET /orders/{id}", () => {
  test("an accepted order is processed to completed, with result and history", async () => {
    const response = await service.post(sampleOrder());
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as OrderJson;
    expect(accepted.status).toBe("accepted");
    expect(accepted.total).toBe(39.98);
    expect(accepted.currency).toBe("EUR");
    expect(response.headers.get("location")).toBe(`/orders/${accepted.id}`);
    expect(accepted.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);

    const done = await service.waitForOrder(accepted.id, (order) => order.status === "completed");
    expect(done.attempts).toBe(1);
    expect(done.history.map((entry) => entry.status)).toEqual(["accepted", "processing", "completed"]);
    expect(done.result).toMatchObject({ total: 39.98, currency: "EUR", reserved: { "SKU-1": 2 } });
    expect(done.customerId).toBe("c-42");
  });

  test("currency defaults to USD", async () => {
    const { currency: _ignored, ...withoutCurrency } = sampleOrder();
    const response = await service.post(withoutCurrency);
    expect(response.status).toBe(202);
    expect(((await response.json()) as OrderJson).currency).toBe("USD");
  });

  test("out of stock is a permanent failure: dead-lettered after one attempt", async () => {
    await service.testRedis.set("stock:SKU-1", "1");
    const response = await service.post(sampleOrder());
    const { id } = (await response.json()) as OrderJson;
    const order = await service.waitForOrder(id, (o) => o.status === "dead_lettered");
    expect(order.attempts).toBe(1);
    expect(order.error).toEqual({ message: "out of stock: SKU-1", permanent: true });
    expect(await service.testRedis.get("stock:SKU-1")).toBe("1");
  });

  test("stock is reserved once per order", async () => {
    await service.testRedis.set("stock:SKU-1", "5");
    const { id } = (await (await service.post(sampleOrder())).json()) as OrderJson;
    await service.waitForOrder(id, (o) => o.status === "completed");
    expect(await service.testRedis.get("stock:SKU-1")).toBe("3");
  });

  test("GET of an unknown or malformed id is 404 problem+json", async () => {
    await expectProblem(await service.getOrder(Bun.randomUUIDv7()), 404);
    await expectProblem(await service.getOrder("not-an-id"), 404);
  });

  test("X-Request-Id is echoed when valid and generated otherwise", async () => {
    const echoed = await service.post(sampleOrder(), { "X-Request-Id": "req-123_abc" });
    expect(echoed.headers.get("x-request-id")).toBe("req-123_abc");
    const replaced = await service.post(sampleOrder(), { "X-Request-Id": "bad value\twith spaces" });
    expect(replaced.headers.get("x-request-id")).not.toContain("bad");
    expect(replaced.headers.get("x-request-id")!.length).toBeGreaterThan(10);
  });
});

describe("bad input is refused with problem+json and nothing is accepted", () => {
  test("400 for malformed JSON", async () => {
    await expectProblem(await service.post('{"customerId": "c-1", '), 400);
  });

  test("413 for a body over 64 KiB", async () => {
    const big = { ...sampleOrder(), customerId: "x".repeat(70 * 1024) };
    await expectProblem(await service.post(big), 413);
  });

  test("415 when the body is not JSON", async () => {
    const response = await service.app.request("/orders", {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify(sampleOrder()),
    });
    await expectProblem(response, 415);
  });

  test("every JSON media type RFC 9110 allows is taken; a compressed body is 415", async () => {
    for (const contentType of [
      "application/json ; charset=utf-8",
      "application/json;",
      "APPLICATION/JSON",
      "application/json;\tcharset=utf-8",
    ]) {
      const response = await service.post(sampleOrder(), { "Content-Type": contentType });
      expect({ contentType, status: response.status }).toEqual({ contentType, status: 202 });
    }
    const gzipped = await service.app.request("/orders", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Content-Encoding": "gzip" },
      body: Bun.gzipSync(JSON.stringify(sampleOrder())),
    });
    await expectProblem(gzipped, 415);
  });

  test("unitPrice: two decimals at any size are taken, a third decimal is refused however small", async () => {
    const priced = (unitPrice: string) =>
      `{"customerId":"c","items":[{"sku":"a","quantity":1,"unitPrice":${unitPrice}}]}`;
    for (const price of ["134217728.02", "660842819785.06", "1.10", "1e-2"]) {
      expect({ price, status: (await service.post(priced(price))).status }).toEqual({ price, status: 202 });
    }
    for (const price of ["19.990000000000002", "1.000000001", "0.30000000000000004", "1.005", "1e-7"]) {
      expect({ price, status: (await service.post(priced(price))).status }).toEqual({ price, status: 422 });
    }
  });

  test("total is exact in cents, also past 2^53 cents", async () => {
    const large = await service.post({
      customerId: "c",
      items: [{ sku: "a", quantity: 1000, unitPrice: 999999999999.99 }],
    });
    expect(((await large.json()) as OrderJson).total).toBe(999999999999990);
    const small = await service.post({
      customerId: "c",
      items: [
        { sku: "a", quantity: 1, unitPrice: 0.1 },
        { sku: "b", quantity: 1, unitPrice: 0.2 },
      ],
    });
    expect(((await small.json()) as OrderJson).total).toBe(0.3);
  });

  test("an unknown field is reported at its own path", async () => {
    const item = { ...sampleOrder().items[0]!, colour: "red" };
    const body = await expectProblem(await service.post({ ...sampleOrder(), items: [item], coupon: "FREE" }), 422);
    expect(body.errors).toEqual([
      { path: "items.0.colour", message: "unknown field" },
      { path: "coupon", message: "unknown field" },
    ]);
  });

  test("422 lists every validation error with its path", async () => {
    const body = await expectProblem(
      await service.post({ customerId: "", items: [{ sku: "A", quantity: 0, unitPrice: 1.999 }], currency: "eur" }),
      422,
    );
    const paths = (body.errors as { path: string }[]).map((error) => error.path).sort();
    expect(paths).toEqual(["currency", "customerId", "items.0.quantity", "items.0.unitPrice"]);
  });

  test("422 for unknown fields, empty items, too many items, a non-http callbackUrl", async () => {
    await expectProblem(await service.post({ ...sampleOrder(), coupon: "FREE" }), 422);
    await expectProblem(await service.post({ ...sampleOrder(), items: [] }), 422);
    const item = sampleOrder().items[0]!;
    await expectProblem(await service.post({ ...sampleOrder(), items: Array.from({ length: 101 }, () => item) }), 422);
    await expectProblem(await service.post({ ...sampleOrder(), callbackUrl: "ftp://shop.example/x" }), 422);
    await expectProblem(await service.post({ ...sampleOrder(), items: [{ ...item, quantity: 1.5 }] }), 422);
  });

  test("a __proto__ key is an unknown field, not a prototype", async () => {
    await expectProblem(
      await service.post(
        '{"customerId":"c","items":[{"sku":"a","quantity":1,"unitPrice":1}],"__proto__":{"admin":true}}',
      ),
      422,
    );
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  test("400 for an Idempotency-Key that is not 1-255 printable ASCII", async () => {
    await expectProblem(await service.post(sampleOrder(), { "Idempotency-Key": "x".repeat(256) }), 400);
    await expectProblem(await service.post(sampleOrder(), { "Idempotency-Key": "héllo" }), 400);
  });
});

describe("Idempotency-Key", () => {
  test("same key and same body replays the first response, key order irrelevant", async () => {
    const first = await service.post(
      { customerId: "c-1", items: [{ sku: "A", quantity: 1, unitPrice: 5 }] },
      { "Idempotency-Key": "k-1" },
    );
    expect(first.status).toBe(202);
    const firstBody = (await first.json()) as OrderJson;
    const again = await service.post('{"items":[{"unitPrice":5,"quantity":1,"sku":"A"}],"customerId":"c-1"}', {
      "Idempotency-Key": "k-1",
    });
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(`/orders/${firstBody.id}`);
    expect(await again.json()).toEqual(firstBody);
  });

  test("same key with a different body is 422", async () => {
    expect((await service.post(sampleOrder(), { "Idempotency-Key": "k-2" })).status).toBe(202);
    const other = { ...sampleOrder(), customerId: "someone-else" };
    await expectProblem(await service.post(other, { "Idempotency-Key": "k-2" }), 422);
  });

  test("50 parallel requests with one key create exactly one order", async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => service.post(sampleOrder(), { "Idempotency-Key": "k-concurrent" })),
    );
    const statuses = responses.map((response) => response.status);
    expect(statuses.every((status) => status === 202 || status === 409)).toBe(true);
    const ids = new Set<string>();
    for (const response of responses) {
      if (response.status === 202) ids.add(((await response.json()) as OrderJson).id);
    }
    expect(ids.size).toBe(1);
    const conflicts = responses.filter((response) => response.status === 409);
    expect(conflicts.length).toBeGreaterThan(0);
    // The first request usually answers within milliseconds: come back in a second.
    expect(conflicts.every((response) => response.headers.get("retry-after") === "1")).toBe(true);
    const orderKeys = await service.testRedis.keys(`${service.keyPrefix}order:*:history`);
    expect(orderKeys.length).toBe(1);
  });
});
