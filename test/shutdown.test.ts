import { afterEach, beforeEach, expect, test } from "bun:test";
import { until } from "./helpers/eventually";
import { ProcessTestEnv, postOrder } from "./helpers/process-env";

let env: ProcessTestEnv;
beforeEach(async () => {
  env = new ProcessTestEnv();
  await env.start("count-runs");
});
afterEach(async () => {
  await env.cleanup();
});

test("SIGTERM: not ready, new orders refused, no new deliveries, the running handler finishes, exit 0", async () => {
  const service = await env.spawn({ SHUTDOWN_TIMEOUT_MS: "20000" });
  const { id } = (await (await postOrder(service, 2000)).json()) as { id: string };
  await until("the handler started", async () => (await env.db.get(`runs:${id}`)) === "1");

  service.signal("SIGTERM");
  await service.waitReady(5000, false);
  const refused = await postOrder(service);
  expect(refused.status).toBe(503);
  expect(refused.headers.get("retry-after")).toBeTruthy();
  // Published while the service drains: a consumer still subscribed would take it (and drop it,
  // as no order record exists for it).
  await env.sendToQueue(
    "orders.process",
    { orderId: crypto.randomUUID(), items: [{ sku: "A", quantity: 1, unitPrice: 1 }] },
    "late-1",
  );

  expect(await service.exited).toBe(0);
  expect(await env.db.hget(`order:${id}`, "status")).toBe("completed");
  expect(await env.db.get(`runs:${id}`)).toBe("1");
  expect(await env.readyMessages("orders.process")).toBe(1);
});

test("SIGTERM, handler slower than SHUTDOWN_TIMEOUT_MS: exit 0, message back, its claim released", async () => {
  const first = await env.spawn({ SHUTDOWN_TIMEOUT_MS: "300" });
  const { id } = (await (await postOrder(first, 1500)).json()) as { id: string };
  await until("the handler started", async () => (await env.db.get(`runs:${id}`)) === "1");

  first.signal("SIGTERM");
  expect(await first.exited).toBe(0);
  expect(await env.db.hget(`order:${id}`, "status")).toBe("processing");
  // Nobody runs it any more: a lease left behind would hold the next worker for 30 s.
  expect(await env.db.exists(`lease:process_order:${id}`)).toBe(0);

  await env.spawn();
  await until(
    "the order completed on the next worker",
    async () => (await env.db.hget(`order:${id}`, "status")) === "completed",
  );
  expect(await env.db.get(`runs:${id}`)).toBe("2");
  expect(await env.db.hget(`order:${id}`, "attempts")).toBe("2");
});

test("SIGINT drains like SIGTERM", async () => {
  const service = await env.spawn({ SHUTDOWN_TIMEOUT_MS: "20000" });
  const { id } = (await (await postOrder(service, 1000)).json()) as { id: string };
  await until("the handler started", async () => (await env.db.get(`runs:${id}`)) === "1");
  service.signal("SIGINT");
  expect(await service.exited).toBe(0);
  expect(await env.db.hget(`order:${id}`, "status")).toBe("completed");
});
