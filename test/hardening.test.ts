import { afterEach, expect, test } from "bun:test";
import { freePort } from "./helpers/free-port";
import {
  expectProblem,
  type OrderJson,
  sampleOrder,
  startTestService,
  type TestService,
  useOrderHandler,
} from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

const orderKeys = async () => (await service!.testRedis.keys(`${service!.keyPrefix}order:*`)).length;

test("a chunked body over 64 KiB (no Content-Length) is 413", async () => {
  service = await startTestService();
  const chunk = new TextEncoder().encode(`{"customerId":"${"x".repeat(70 * 1024)}"}`);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let offset = 0; offset < chunk.length; offset += 8192)
        controller.enqueue(chunk.slice(offset, offset + 8192));
      controller.close();
    },
  });
  const response = await service.app.request("/orders", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body,
    duplex: "half",
  } as RequestInit);
  await expectProblem(response, 413);
  expect(await orderKeys()).toBe(0);
});

test("over 64 KiB is 413 from a real socket too, and the server refuses bodies past its own limit", async () => {
  const port = freePort();
  service = await startTestService({ env: { PORT: String(port) }, service: { listen: true } });
  const post = (bytes: number) =>
    fetch(`http://127.0.0.1:${port}/orders`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: `{"customerId":"${"x".repeat(bytes)}"}`,
    });
  // Over our 64 KiB: our problem+json. Over the server's 1 MiB: Bun's own bare 413.
  await expectProblem(await post(100 * 1024), 413);
  expect((await post(2 * 1024 * 1024)).status).toBe(413);
  expect(await orderKeys()).toBe(0);
});

test("deeply nested JSON is a validation error, not a crash", async () => {
  service = await startTestService();
  const deep = "[".repeat(20_000) + "]".repeat(20_000);
  await expectProblem(await service.post(`{"customerId":"c","items":${deep}}`), 422);
  await expectProblem(
    await service.post(`{"customerId":"c","items":[{"sku":"a","quantity":1,"unitPrice":1}],"x":${deep}}`),
    422,
  );
  await expectProblem(await service.post(deep), 422);
  expect(await orderKeys()).toBe(0);
});

test("__proto__, constructor and prototype keys anywhere are unknown fields; nothing is polluted", async () => {
  service = await startTestService();
  const item = '{"sku":"a","quantity":1,"unitPrice":1';
  for (const body of [
    `{"customerId":"c","items":[${item},"__proto__":{"polluted":true}}]}`,
    `{"customerId":"c","items":[${item}}],"constructor":{"prototype":{"polluted":true}}}`,
    `{"customerId":"c","items":[${item},"constructor":{"prototype":{"polluted":true}}}]}`,
  ]) {
    await expectProblem(await service.post(body), 422);
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(await orderKeys()).toBe(0);
});

test("Idempotency-Key: empty or with control characters is 400", async () => {
  service = await startTestService();
  for (const key of ["", "tab\there", "del\x7f", "x".repeat(256)]) {
    await expectProblem(await service.post(sampleOrder(), { "Idempotency-Key": key }), 400);
  }
  expect(await orderKeys()).toBe(0);
});

test("X-Request-Id that is too long or has odd characters is replaced, never echoed", async () => {
  service = await startTestService();
  for (const bad of ["x".repeat(129), "a;b", "a b", "a\tb", "<script>", "é"]) {
    const response = await service.post(sampleOrder(), { "X-Request-Id": bad });
    expect(response.status).toBe(202);
    expect(response.headers.get("x-request-id")).not.toBe(bad);
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  }
});

test("client headers never reach the message: only x-request-id, x-order-id, a valid traceparent", async () => {
  service = await startTestService({ transform: useOrderHandler("record-headers") });
  const response = await service.post(sampleOrder(), {
    "X-Request-Id": "req-42",
    "X-Order-Id": "spoofed",
    CC: "orders.process",
    BCC: "dead_letters",
    "x-death": "[]",
    "x-delay": "100000",
    "x-match": "any",
    "X-Custom": "hello",
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  });
  expect(response.status).toBe(202);
  const { id } = (await response.json()) as OrderJson;
  await service.waitForOrder(id, (order) => order.status === "completed");
  const headers = JSON.parse((await service.testRedis.get(`headers:${id}`))!) as Record<string, unknown>;
  // Rascal keeps its own bookkeeping under `rascal`; everything else is ours.
  const { rascal: _rascal, ...ours } = headers;
  expect(ours).toEqual({
    "x-request-id": "req-42",
    "x-order-id": id,
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  });

  const invalidTrace = await service.post(sampleOrder(), { traceparent: "00-not-a-trace-id-01, x-evil: 1" });
  const other = (await invalidTrace.json()) as OrderJson;
  await service.waitForOrder(other.id, (order) => order.status === "completed");
  const otherHeaders = JSON.parse((await service.testRedis.get(`headers:${other.id}`))!) as Record<string, unknown>;
  expect(otherHeaders.traceparent).toBeUndefined();
});

test("ids from the URL reach Redis only when they are well-formed", async () => {
  service = await startTestService({ env: { ADMIN_TOKEN: "hardening-admin-secret" } });
  // Were "*" used as a key, reading this string as an order hash would fail with 503, not 404.
  await service.testRedis.set("order:*", "not an order");
  const auth = { Authorization: "Bearer hardening-admin-secret" };
  for (const id of ["*", "%2A", "..%2Forder%3A1", "order:1", "dl:index", "0".repeat(33)]) {
    await expectProblem(await service.getOrder(id), 404);
    await expectProblem(
      await service.app.request(`/admin/dead-letters/${id}`, { method: "DELETE", headers: auth }),
      404,
    );
    await expectProblem(
      await service.app.request(`/admin/dead-letters/${id}/replay`, { method: "POST", headers: auth }),
      404,
    );
  }
});
