import { expect, test } from "bun:test";
import { loadTopology, type RascalConfig } from "../../src/broker/topology";

const RASCAL_JSON = new URL("../../rascal.json", import.meta.url).pathname;

const load = (transform: (config: RascalConfig) => void) =>
  loadTopology({ path: RASCAL_JSON, defaultAmqpUrl: "amqp://127.0.0.1", transform });

test("a Rascal subscription key the runtime does not honour stops start-up naming the key", () => {
  expect(() =>
    load((config) => {
      config.subscriptions.process_order!.retry = { delay: 1000 };
    }),
  ).toThrow(/rascal\.json: subscriptions\.process_order\.retry: is not supported: .*pipeline\.retries/);
  for (const key of ["recovery", "redeliveries", "closeTimeout", "encryption", "promisifyAckOrNack"]) {
    expect(() =>
      load((config) => {
        config.subscriptions.notify_customer![key] = {};
      }),
    ).toThrow(`subscriptions.notify_customer.${key}: is not supported`);
  }
});

test("a publication key the publisher does not honour stops start-up naming the key", () => {
  expect(() =>
    load((config) => {
      (config.publications.order_created as Record<string, unknown>).timeout = 1000;
    }),
  ).toThrow("publications.order_created.timeout: is not supported");
});

test("the keys the runtime honours are taken", () => {
  const topology = load((config) => {
    Object.assign(config.subscriptions.process_order!, { prefetch: 8, contentType: "application/json", options: {} });
  });
  expect(topology.handlerSubscriptions.map((plan) => plan.name)).toContain("process_order");
});
