import { afterEach, expect, test } from "bun:test";
import { eventually } from "./helpers/eventually";
import { sample } from "./helpers/prometheus-text";
import { type OrderJson, sampleOrder, startTestService, type TestService } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

const scrape = async () => {
  const response = await service!.app.request("/metrics");
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return response.text();
};

test("/metrics counts an accepted and a processed order with the right labels", async () => {
  // The built-in handlers: process-order publishes order.completed, notify-customer consumes it.
  service = await startTestService();
  const accepted = (await (await service.post(sampleOrder())).json()) as OrderJson;
  await service.waitForOrder(accepted.id, (order) => order.status === "completed");
  const text = await eventually(
    scrape,
    (body) => sample(body, "messages_consumed_total", { subscription: "notify_customer", outcome: "completed" }) === 1,
  );

  expect(sample(text, "orders_accepted_total")).toBe(1);
  expect(sample(text, "http_requests_total", { method: "POST", route: "/orders", status: "202" })).toBe(1);
  expect(
    sample(text, "http_requests_total", { method: "GET", route: "/orders/:id", status: "200" }),
  ).toBeGreaterThanOrEqual(1);
  expect(sample(text, "http_request_duration_seconds_count", { method: "POST", route: "/orders" })).toBe(1);
  expect(sample(text, "messages_published_total", { publication: "order_created" })).toBe(1);
  expect(sample(text, "messages_published_total", { publication: "order_completed" })).toBe(1);
  expect(sample(text, "messages_consumed_total", { subscription: "process_order", outcome: "completed" })).toBe(1);
  // The other outcomes exist from the start, at 0 (a rate or alert reads 0, not "no data").
  for (const outcome of ["retried", "dead_lettered", "duplicate", "dropped"]) {
    expect(sample(text, "messages_consumed_total", { subscription: "process_order", outcome })).toBe(0);
  }
  expect(sample(text, "handler_duration_seconds_count", { subscription: "process_order" })).toBe(1);
  expect(sample(text, "handler_duration_seconds_bucket", { subscription: "process_order", le: "+Inf" })).toBe(1);
});

test("queue_messages follows the broker's queue depth", async () => {
  // An intake without workers: what it accepts stays in the queue.
  service = await startTestService({ env: { ROLE: "api" }, service: { queueDepthIntervalMs: 50 } });
  const depth = (text: string) => sample(text, "queue_messages", { queue: "orders.process" });

  expect(depth(await eventually(scrape, (text) => depth(text) !== undefined))).toBe(0);
  expect((await service.post(sampleOrder())).status).toBe(202);
  expect((await service.post(sampleOrder())).status).toBe(202);
  const text = await eventually(scrape, (body) => depth(body) === 2);
  // Every queue of the topology is watched, under its rascal.json name (not the namespaced one).
  expect(sample(text, "queue_messages", { queue: "dead_letters" })).toBe(0);
  expect(sample(text, "queue_messages", { queue: "orders.process.retry.1000ms" })).toBe(0);
  expect(text).not.toContain(service.namespace);
});

test("a scrape does not walk the heap: the heap-space default metrics are left out, heap totals stay", async () => {
  // v8.getHeapSpaceStatistics() walks the whole heap on Bun, stalling every request of the process.
  service = await startTestService({ env: { ROLE: "api" } });
  const text = await scrape();
  expect(text).not.toContain("nodejs_heap_space_size");
  expect(sample(text, "nodejs_heap_size_used_bytes")).toBeGreaterThan(0);
  expect(sample(text, "process_cpu_seconds_total")).toBeGreaterThan(0);
});
