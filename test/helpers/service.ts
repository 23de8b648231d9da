import { expect } from "bun:test";
import Redis from "ioredis";
import { loadTopology, type RascalConfig } from "../../src/broker/topology";
import { loadConfig } from "../../src/config";
import { createLogger } from "../../src/log";
import { type Service, type ServiceOptions, startService } from "../../src/service";
import { deleteTopology } from "./temp-queue";

export const FIXTURE_HANDLERS = new URL("../fixtures/handlers", import.meta.url).pathname;

export interface TestService extends Service {
  /** Redis client on the same key prefix, for assertions. */
  testRedis: Redis;
  keyPrefix: string;
  namespace: string;
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  getOrder(id: string): Promise<Response>;
  /** Polls GET /orders/{id} until `done(order)` or the deadline. */
  waitForOrder(id: string, done: (order: OrderJson) => boolean, timeoutMs?: number): Promise<OrderJson>;
  close(): Promise<void>;
}

export type OrderJson = {
  id: string;
  status: string;
  attempts: number;
  history: { status: string; at: string; detail?: string }[];
  result?: unknown;
  error?: { message: string; permanent: boolean };
  nextRetryAt?: string;
  callback?: { status: string; attempts: number };
  [key: string]: unknown;
};

export interface TestServiceOptions {
  env?: Record<string, string>;
  /** Edits the parsed rascal.json before expansion (swap handlers, shorten delays). */
  transform?: (config: RascalConfig) => void;
  service?: Partial<ServiceOptions>;
  /** Reuse another test service's namespace (to meet its queues). */
  namespace?: string;
}

/**
 * Starts the real service (real RabbitMQ and Redis) in its own namespace: Rascal prefixes every
 * queue and exchange with a random namespace and Redis keys get a random prefix. `close()`
 * deletes both.
 */
export async function startTestService(options: TestServiceOptions = {}): Promise<TestService> {
  const id = crypto.randomUUID().slice(0, 8);
  const namespace = options.namespace ?? `t-${id}`;
  const keyPrefix = options.service?.keyPrefix ?? `test:${id}:`;
  const config = loadConfig({ HANDLERS_DIR: FIXTURE_HANDLERS, LOG_LEVEL: process.env.LOG_LEVEL, ...options.env });
  const topology = loadTopology({
    path: config.RASCAL_CONFIG ?? new URL("../../rascal.json", import.meta.url).pathname,
    defaultAmqpUrl: config.amqpUrl,
    amqpUrlOverride: config.amqpUrlOverride ? config.amqpUrl : undefined,
    namespace,
    transform: options.transform,
    orderTimeoutMs: config.ORDER_TIMEOUT_MS,
  });
  const service = await startService({
    config,
    topology,
    keyPrefix,
    log: createLogger(config.LOG_LEVEL),
    ...options.service,
  });
  const testRedis = new Redis(config.REDIS_URL, { keyPrefix });
  // Fault tests stop Redis under this client; its commands fail then, which is what they check.
  testRedis.on("error", () => {});

  const request = (path: string, init?: RequestInit) => Promise.resolve(service.app.request(path, init));
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    request("/orders", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  const getOrder = (orderId: string) => request(`/orders/${orderId}`);
  const waitForOrder = async (orderId: string, done: (order: OrderJson) => boolean, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: OrderJson | undefined;
    while (Date.now() < deadline) {
      const response = await getOrder(orderId);
      if (response.status === 200) {
        last = (await response.json()) as OrderJson;
        if (done(last)) return last;
      }
      await Bun.sleep(25);
    }
    throw new Error(`order ${orderId} did not reach the expected state; last seen: ${JSON.stringify(last)}`);
  };
  const close = async () => {
    await service.stop();
    await deleteTopology(service.broker.config);
    await deleteKeys(keyPrefix, config.REDIS_URL);
    testRedis.disconnect();
  };
  return { ...service, testRedis, keyPrefix, namespace, post, getOrder, waitForOrder, close };
}

/** Deletes every Redis key under `prefix`. */
export async function deleteKeys(
  prefix: string,
  url: string = process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
): Promise<void> {
  // SCAN sees full key names; DEL through this client would add the prefix again.
  const raw = new Redis(url);
  let cursor = "0";
  do {
    const [next, found] = await raw.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    cursor = next;
    if (found.length > 0) await raw.del(...found);
  } while (cursor !== "0");
  raw.disconnect();
}

/** Orders with a record under the service's key prefix (an order the intake refused leaves only a marker). */
export async function orderRecordCount(service: Pick<TestService, "testRedis" | "keyPrefix">): Promise<number> {
  const names = (await service.testRedis.keys(`${service.keyPrefix}order:*`))
    .filter((key) => !key.endsWith(":history"))
    .map((key) => key.slice(service.keyPrefix.length));
  const hasDoc = await Promise.all(names.map((key) => service.testRedis.hexists(key, "doc")));
  return hasDoc.filter((exists) => exists === 1).length;
}

export const sampleOrder = () => ({
  customerId: "c-42",
  items: [{ sku: "SKU-1", quantity: 2, unitPrice: 19.99 }],
  currency: "EUR",
});

/** Points the order subscription at a fixture handler. */
export function useOrderHandler(handler: string, retry?: { delays: number[]; maxAttempts?: number }) {
  return (config: RascalConfig) => {
    config.subscriptions.process_order!.handler = handler;
    if (retry) {
      const pipeline = (config.pipeline ??= {}) as { retries?: Record<string, unknown> };
      pipeline.retries = { ...(pipeline.retries ?? {}), process_order: retry };
    }
  };
}

export async function expectProblem(response: Response, status: number): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toContain("application/problem+json");
  const body = (await response.json()) as Record<string, unknown>;
  expect(body.status).toBe(status);
  expect(typeof body.title).toBe("string");
  expect(typeof body.detail).toBe("string");
  return body;
}
