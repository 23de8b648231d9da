import { afterEach, expect, test } from "bun:test";
import { loadTopology } from "../src/broker/topology";
import { printTopology } from "../src/cli/topology";
import { loadConfig } from "../src/config";
import { until } from "./helpers/eventually";
import { type OrderJson, sampleOrder, startTestService, type TestService, useOrderHandler } from "./helpers/service";
import { writeTopologyFile } from "./helpers/service-process";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

test("an attempt past its timeout fails, is retried and counted, never overlaps itself, dead-letters", async () => {
  service = await startTestService({
    transform: (config) => {
      useOrderHandler("slow-attempt", { delays: [50], maxAttempts: 3 })(config);
      (config.pipeline as { timeouts?: Record<string, number> }).timeouts = { process_order: 300 };
    },
  });
  const { id } = (await (await service.post(sampleOrder())).json()) as OrderJson;
  const order = await service.waitForOrder(id, (current) => current.status === "dead_lettered", 20_000);
  expect(order.attempts).toBe(3);
  expect(order.error).toEqual({ message: "handler timed out after 300 ms", permanent: false });
  // Every run ended before the next began, though each attempt timed out long before its run ended.
  await until("the last run ended", async () => (await service!.testRedis.llen(`spans:${id}`)) === 3);
  const spans = (await service.testRedis.lrange(`spans:${id}`, 0, -1)).map((span) => span.split("-").map(Number));
  for (let index = 1; index < spans.length; index++)
    expect(spans[index]![0]!).toBeGreaterThanOrEqual(spans[index - 1]![1]!);
  // Each run's signal aborted when its attempt timed out.
  expect(await service.testRedis.get(`aborted:${id}`)).toBe("3");
  const timeouts = (await service.metrics.handlerTimeouts.get()).values.find(
    (value) => value.labels.subscription === "process_order",
  );
  expect(timeouts?.value).toBe(3);
});

test("topology print shows each handler subscription's ladder and timeout", async () => {
  const file = await writeTopologyFile((config) => {
    config.pipeline.timeouts = { process_order: 2500 };
  });
  try {
    const out: string[] = [];
    printTopology(loadConfig({ RASCAL_CONFIG: file.path }), { out: (line) => void out.push(line), err: () => {} });
    const printed = JSON.parse(out.join("\n")) as { pipeline: Record<string, Record<string, unknown>> };
    expect(printed.pipeline.process_order).toMatchObject({ handler: "process-order", timeoutMs: 2500, maxAttempts: 4 });
    expect(printed.pipeline.notify_customer).not.toHaveProperty("timeoutMs");
  } finally {
    file.cleanup();
  }
});

test("pipeline.timeouts must name a subscription and be whole milliseconds", () => {
  const path = new URL("../rascal.json", import.meta.url).pathname;
  const load = (timeouts: unknown) =>
    loadTopology({
      path,
      defaultAmqpUrl: "amqp://127.0.0.1",
      transform: (config) => {
        (config.pipeline as Record<string, unknown>).timeouts = timeouts;
      },
    });
  expect(() => load({ nope: 100 })).toThrow("pipeline.timeouts.nope: names no subscription in subscriptions");
  expect(() => load({ process_order: 1.5 })).toThrow("pipeline.timeouts.process_order");
  expect(
    load({ process_order: 2500 }).handlerSubscriptions.find((plan) => plan.name === "process_order")?.timeoutMs,
  ).toBe(2500);
});
