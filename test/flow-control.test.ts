import { afterEach, expect, test } from "bun:test";
import Redis from "ioredis";
import { loadTopology, type RascalConfig } from "../src/broker/topology";
import { printTopology } from "../src/cli/topology";
import { loadConfig } from "../src/config";
import { ConcurrencySlots } from "../src/store/concurrency-slots";
import { keys } from "../src/store/keys";
import { until } from "./helpers/eventually";
import { ProcessTestEnv } from "./helpers/process-env";
import { deleteKeys, type OrderJson, startTestService, type TestService, useOrderHandler } from "./helpers/service";
import { writeTopologyFile } from "./helpers/service-process";

const started: TestService[] = [];
let env: ProcessTestEnv | undefined;
afterEach(async () => {
  // The first service owns the namespace: the others stop before it deletes the queues.
  for (const service of started.slice(1)) await service.stop();
  await started[0]?.close();
  started.length = 0;
  await env?.cleanup();
  env = undefined;
});

type Pipeline = { concurrency?: Record<string, unknown>; rateLimits?: Record<string, unknown> };
const pipelineOf = (config: RascalConfig) => (config.pipeline ??= {}) as Pipeline;

/** One customer at a time for process_order (and the subscription's prefetch when given). */
function onePerCustomer(prefetch?: number) {
  return (config: RascalConfig) => {
    useOrderHandler("one-per-customer")(config);
    pipelineOf(config).concurrency = { process_order: { key: "customerId", limit: 1 } };
    if (prefetch) config.subscriptions.process_order!.prefetch = prefetch;
  };
}

const order = (customerId: string) => ({ customerId, items: [{ sku: "SKU-1", quantity: 1, unitPrice: 1 }] });

async function acceptAll(service: TestService, customers: string[]): Promise<string[]> {
  const answers = await Promise.all(customers.map((customerId) => service.post(order(customerId))));
  expect(answers.map((answer) => answer.status)).toEqual(customers.map(() => 202));
  return Promise.all(answers.map(async (answer) => ((await answer.json()) as OrderJson).id));
}

const published = async (service: TestService, publication: string) =>
  (await service.metrics.messagesPublished.get()).values.find((value) => value.labels.publication === publication)
    ?.value ?? 0;

test("limit 1 per customer on two workers: 20 customers × 10 orders never overlap, no extra attempts", async () => {
  const first = await startTestService({ transform: onePerCustomer() });
  started.push(first);
  started.push(
    await startTestService({
      transform: onePerCustomer(),
      namespace: first.namespace,
      service: { keyPrefix: first.keyPrefix },
      env: { ROLE: "worker" },
    }),
  );
  // Interleaved, as real traffic would be: every prefetch window holds several orders of each customer.
  const customers = Array.from({ length: 200 }, (_, index) => `c-${index % 20}`);
  const ids = await acceptAll(first, customers);
  for (const id of ids) {
    const done = await first.waitForOrder(id, (current) => current.status === "completed", 60_000);
    expect(done.attempts).toBe(1);
  }
  expect(await first.testRedis.llen("runs")).toBe(200);
  expect(await first.testRedis.lrange("overlaps", 0, -1)).toEqual([]);
  // Both ways of waiting were used: in the process, and (beyond half the prefetch) in the wait queue.
  const waits = await Promise.all(
    started.map(async (service) =>
      (await service.metrics.flowControlWaits.get()).values
        .filter((value) => value.labels.limit === "concurrency")
        .reduce((sum, value) => sum + value.value, 0),
    ),
  );
  expect(waits[0]! + waits[1]!).toBeGreaterThan(0);
  expect(
    (await published(first, "process_order.wait")) + (await published(started[1]!, "process_order.wait")),
  ).toBeGreaterThan(0);
});

test("a busy customer does not hold back the others, even when its orders outnumber the prefetch", async () => {
  const service = await startTestService({ transform: onePerCustomer(4) });
  started.push(service);
  const busy = await acceptAll(
    service,
    Array.from({ length: 12 }, () => "hold-150-busy"),
  );
  await until(
    "the busy customer's first order runs",
    async () => (await service.testRedis.get("running:hold-150-busy")) === "1",
  );
  const [other] = await acceptAll(service, ["hold-10-other"]);
  await service.waitForOrder(other!, (current) => current.status === "completed", 10_000);
  const busyDone = await Promise.all(
    busy.map(async (id) => ((await (await service.getOrder(id)).json()) as OrderJson).status),
  );
  // 12 × 150 ms one after another: the other customer's order finished while most of them still waited.
  expect(busyDone.filter((status) => status === "completed").length).toBeLessThanOrEqual(6);
  for (const id of busy) await service.waitForOrder(id, (current) => current.status === "completed", 20_000);
  expect(await service.testRedis.lrange("overlaps", 0, -1)).toEqual([]);
});

test("a killed holder's slot frees once its alive key is gone; a live holder keeps it until release", async () => {
  const prefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
  const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { keyPrefix: prefix });
  try {
    const slots = new ConcurrencySlots(redis, 300);
    const take = (owner: string) => slots.acquire({ subscription: "s", value: "c-1", limit: 1, owner });
    await redis.set(keys.alive("live"), "1", "PX", 10_000);
    // A holder whose process has no alive key (it was killed) gives its slot up at once.
    expect(await take("dead:1")).toBeDefined();
    const live = await take("live:1");
    expect(live).toBeDefined();
    // A live holder keeps it, and its heartbeat keeps it past one lease.
    await redis.set(keys.alive("other"), "1", "PX", 10_000);
    expect(await take("other:1")).toBeUndefined();
    await Bun.sleep(450);
    expect(await take("other:2")).toBeUndefined();
    live!.release();
    await until("the released slot is free", async () => (await take("other:3")) !== undefined);
  } finally {
    redis.disconnect();
    await deleteKeys(prefix);
  }
});

test("20 starts per second across two worker processes, measured over 20 s", async () => {
  env = new ProcessTestEnv();
  await env.start("record-start", (config) => {
    config.pipeline.rateLimits = { process_order: { perSecond: 20 } };
  });
  const services = [await env.spawn(), await env.spawn()];
  const batch = { orders: Array.from({ length: 100 }, () => order("c-rate")) };
  const answers = await Promise.all(
    [0, 1, 2, 3].map((index) =>
      fetch(`${services[index % 2]!.baseUrl}/orders/batch`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(batch),
      }),
    ),
  );
  expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
  await until("400 handlers started", async () => (await env!.db.llen("starts")) >= 400, 40_000);
  const starts = (await env.db.lrange("starts", 0, -1)).map((line) => line.split(" ").map(Number) as [number, number]);
  const times = starts.map(([, at]) => at).sort((a, b) => a - b);
  const perSecond = (times.length - 1) / ((times.at(-1)! - times[0]!) / 1000);
  expect(perSecond).toBeGreaterThan(18);
  expect(perSecond).toBeLessThan(22);
  // No stretch held more than its share, whichever process started them. Turns are booked one
  // interval (50 ms) apart, and each start runs as late as its event loop lets it: 900 ms hold at
  // most 18 + 1 booked turns, plus those of the 100 ms before that ran late (on a busy machine).
  const busiest = Math.max(...times.map((at) => times.filter((other) => other >= at && other < at + 900).length));
  expect(busiest).toBeLessThanOrEqual(21);
  const byProcess = new Map<number, number>();
  for (const [pid] of starts) byProcess.set(pid, (byProcess.get(pid) ?? 0) + 1);
  expect(byProcess.size).toBe(2);
  for (const runs of byProcess.values()) expect(runs).toBeGreaterThan(100);
}, 60_000);

test("pipeline.concurrency and pipeline.rateLimits are checked at start-up and shown by topology print", async () => {
  const path = new URL("../rascal.json", import.meta.url).pathname;
  const load = (pipeline: Pipeline) =>
    loadTopology({
      path,
      defaultAmqpUrl: "amqp://127.0.0.1",
      transform: (config) => void Object.assign(pipelineOf(config), pipeline),
    });
  expect(() => load({ concurrency: { nope: { key: "customerId", limit: 1 } } })).toThrow(
    "pipeline.concurrency.nope: names no subscription in subscriptions",
  );
  expect(() => load({ concurrency: { process_order: { key: "customerId", limit: 1, wait: 5 } } })).toThrow(
    "pipeline.concurrency.process_order",
  );
  expect(() => load({ concurrency: { process_order: { key: "customerId", limit: 0 } } })).toThrow(
    "pipeline.concurrency.process_order.limit",
  );
  expect(() => load({ concurrency: { process_order: { key: "a.b", limit: 1 } } })).toThrow(
    "pipeline.concurrency.process_order.key: must name a top-level field of the message JSON",
  );
  expect(() => load({ rateLimits: { process_order: { perSecond: 0 } } })).toThrow(
    "pipeline.rateLimits.process_order.perSecond",
  );
  expect(() => load({ rateLimits: { process_order: { perMinute: 5 } } })).toThrow("pipeline.rateLimits.process_order");
  expect(() => load({ rateLimits: { ghost: { perSecond: 5 } } })).toThrow(
    "pipeline.rateLimits.ghost: names no subscription in subscriptions",
  );

  const file = await writeTopologyFile((config) => {
    config.pipeline.concurrency = { process_order: { key: "customerId", limit: 2 } };
    config.pipeline.rateLimits = { notify_customer: { perSecond: 50 } };
  });
  try {
    const out: string[] = [];
    printTopology(loadConfig({ RASCAL_CONFIG: file.path }), { out: (line) => void out.push(line), err: () => {} });
    const printed = JSON.parse(out.join("\n")) as {
      pipeline: Record<string, Record<string, unknown>>;
      vhosts: Record<string, { queues: Record<string, { options: { arguments: Record<string, unknown> } }> }>;
    };
    expect(printed.pipeline.process_order).toMatchObject({
      concurrency: { key: "customerId", limit: 2, waitPublication: "process_order.wait" },
    });
    expect(printed.pipeline.process_order).not.toHaveProperty("rateLimit");
    expect(printed.pipeline.notify_customer).toMatchObject({ rateLimit: { perSecond: 50 } });
    expect(printed.vhosts["/"]!.queues["orders.process.wait.250ms"]!.options.arguments).toEqual({
      "x-queue-type": "quorum",
      "x-message-ttl": 250,
      "x-dead-letter-exchange": "orders.process.requeue",
    });
  } finally {
    file.cleanup();
  }
});
