import { afterEach, expect, test } from "bun:test";
import Redis from "ioredis";
import { Webhook } from "standardwebhooks";
import type { HandlerContext } from "../src/handler";
import { createLogger } from "../src/log";
import { createCallbackHandler } from "../src/runtime/callbacks/deliver-callback";
import { RetryAfterError } from "../src/runtime/retry-after-error";
import { OrderStore } from "../src/store/order-store";
import { deleteKeys, type OrderJson, sampleOrder, startTestService, type TestService } from "./helpers/service";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A real order record in its own Redis key prefix, and the callback handler over it. */
async function callbackSetup(options: Omit<Parameters<typeof createCallbackHandler>[0], "store">) {
  const prefix = `test:${crypto.randomUUID().slice(0, 8)}:`;
  const redis = new Redis(REDIS_URL, { keyPrefix: prefix });
  cleanups.push(async () => {
    redis.disconnect();
    await deleteKeys(prefix, REDIS_URL);
  });
  const store = new OrderStore(redis);
  const handler = createCallbackHandler({ store, ...options });
  const newOrder = async () => {
    const orderId = Bun.randomUUIDv7();
    await store.create(orderId, OrderStore.document(sampleOrder()), new Date().toISOString());
    return orderId;
  };
  const call = (orderId: string, callbackUrl: string): Promise<unknown> =>
    Promise.resolve(handler({ orderId, status: "completed", callbackUrl }, context(orderId)));
  return { newOrder, call };
}

function context(orderId: string): HandlerContext {
  return {
    messageId: `${orderId}:completed:3`,
    attempt: 1,
    maxAttempts: 5,
    headers: {},
    log: createLogger("fatal"),
    subscription: "deliver_callback",
    orderId,
    signal: new AbortController().signal,
    publish: async () => {},
  } as unknown as HandlerContext;
}

/** A receiver on loopback that records each request, answering with `answer`. */
function receiver(
  answer: (request: Request) => Response | Promise<Response> = () => new Response(null, { status: 204 }),
) {
  const requests: { host: string | null; headers: Headers; body: string; at: number }[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      requests.push({
        host: request.headers.get("host"),
        headers: request.headers,
        body: await request.text(),
        at: Date.now(),
      });
      return answer(request);
    },
  });
  cleanups.push(() => server.stop(true));
  return { port: server.port!, requests };
}

test("the callback connects to the address that was checked: one lookup, the name kept in Host", async () => {
  const shop = receiver();
  const lookups: string[] = [];
  // A name the system resolver cannot resolve: only the checked address can reach the receiver.
  const { newOrder, call } = await callbackSetup({
    allowPrivate: true,
    lookup: async (host) => {
      lookups.push(host);
      return ["127.0.0.1"];
    },
  });
  const orderId = await newOrder();
  expect(await call(orderId, `http://shop.invalid:${shop.port}/hooks`)).toMatchObject({ delivered: true });
  expect(lookups).toEqual(["shop.invalid"]);
  expect(shop.requests.map((request) => request.host)).toEqual([`shop.invalid:${shop.port}`]);
});

test("only public unicast addresses are called: IPv4-compatible, NAT64, 6to4, Teredo, site-local refused", async () => {
  const { newOrder, call } = await callbackSetup({ allowPrivate: false });
  const orderId = await newOrder();
  const refusedHosts = [
    "[::7f00:1]",
    "[64:ff9b::7f00:1]",
    "[2002:7f00:1::]",
    "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
    "[::ffff:0:7f00:1]",
    "[fec0::1]",
    "[::ffff:127.0.0.1]",
    "100.64.0.1",
    "127.0.0.1",
  ];
  for (const host of refusedHosts) {
    const outcome = await call(orderId, `http://${host}:9/hooks`).catch((error: Error) => error);
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).name).toBe("PermanentError");
    expect((outcome as Error).message).toContain("only public unicast");
  }
});

test("Standard Webhooks headers verify with the standardwebhooks library and cover the timestamp", async () => {
  const shop = receiver();
  const secret = "a-callback-secret";
  const { newOrder, call } = await callbackSetup({ allowPrivate: true, secret });
  const orderId = await newOrder();
  await call(orderId, `http://127.0.0.1:${shop.port}/hooks`);
  const [request] = shop.requests;
  const headers = {
    "webhook-id": request!.headers.get("webhook-id")!,
    "webhook-timestamp": request!.headers.get("webhook-timestamp")!,
    "webhook-signature": request!.headers.get("webhook-signature")!,
  };
  expect(headers["webhook-id"]).toBe(`${orderId}:completed:3`);
  const verified = new Webhook(secret, { format: "raw" }).verify(request!.body, headers) as OrderJson;
  expect(verified.id).toBe(orderId);
  // A replay with another timestamp does not verify.
  const replayed = { ...headers, "webhook-timestamp": String(Number(headers["webhook-timestamp"]) - 1) };
  expect(() => new Webhook(secret, { format: "raw" }).verify(request!.body, replayed)).toThrow();
});

test("a silent host holds at most perHostLimit deliveries; the rest go to the ladder, other hosts flow", async () => {
  const silent = receiver(() => new Promise<Response>(() => {}));
  const shop = receiver();
  const { newOrder, call } = await callbackSetup({ allowPrivate: true, perHostLimit: 2, timeoutMs: 60_000 });
  const stuck = [
    call(await newOrder(), `http://127.0.0.1:${silent.port}/a`),
    call(await newOrder(), `http://127.0.0.1:${silent.port}/b`),
  ];
  for (const pending of stuck) pending.catch(() => {});
  // Both slots of the silent host are taken once it has seen both requests.
  for (let i = 0; i < 200 && silent.requests.length < 2; i++) await Bun.sleep(10);
  const third = await call(await newOrder(), `http://127.0.0.1:${silent.port}/c`).catch((error: Error) => error);
  expect(third).toBeInstanceOf(RetryAfterError);
  expect(await call(await newOrder(), `http://127.0.0.1:${shop.port}/hooks`)).toMatchObject({ delivered: true });
  expect(silent.requests.length).toBe(2);
});

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

test("a 503 with Retry-After puts the next attempt in a retry tier at least that long", async () => {
  let calls = 0;
  const shop = receiver(() => {
    calls += 1;
    return calls === 1
      ? new Response(null, { status: 503, headers: { "Retry-After": "2" } })
      : new Response(null, { status: 204 });
  });
  service = await startTestService({
    env: { CALLBACK_ALLOW_PRIVATE: "true" },
    transform: (config) => {
      const pipeline = (config.pipeline ??= {}) as { retries: Record<string, unknown> };
      pipeline.retries.deliver_callback = { delays: [100, 2500], maxAttempts: 3 };
    },
  });
  const callbackUrl = `http://127.0.0.1:${shop.port}/hooks`;
  const { id } = (await (await service.post({ ...sampleOrder(), callbackUrl })).json()) as OrderJson;
  await service.waitForOrder(id, (order) => order.callback?.status === "delivered", 15_000);
  expect(shop.requests.length).toBe(2);
  // The ladder's first tier (100 ms) would have come back at once; Retry-After chose the 2.5 s tier.
  expect(shop.requests[1]!.at - shop.requests[0]!.at).toBeGreaterThanOrEqual(2000);
});
