import { afterEach, expect, test } from "bun:test";
import { ORDER_PUBLICATION } from "../src/broker/topology";
import { until } from "./helpers/eventually";
import { type OrderJson, startTestService, type TestService, useOrderHandler } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

const TOKEN = "admin-api-test-token";
const ADMIN = { Authorization: `Bearer ${TOKEN}` };

const order = (customerId: string) => ({ customerId, items: [{ sku: "SKU-1", quantity: 1, unitPrice: 1 }] });

async function admin<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const response = await service!.app.request(path, { ...init, headers: { ...ADMIN, ...init.headers } });
  return { status: response.status, body: (response.status === 204 ? undefined : await response.json()) as T };
}

type OrderPage = { items: OrderJson[]; nextCursor?: string };
type DeadLetterPage = { items: { id: string; orderId: string | null; reason: string; subscription: string }[] };

test("GET /admin/orders: newest first, by customer and status, page by page", async () => {
  service = await startTestService({ env: { ADMIN_TOKEN: TOKEN } });
  const ids: string[] = [];
  for (const customerId of ["c-a", "c-b", "c-a", "c-a", "c-b"]) {
    ids.push(((await (await service.post(order(customerId))).json()) as OrderJson).id);
  }
  for (const id of ids) await service.waitForOrder(id, (current) => current.status === "completed");
  const ofA = [ids[3]!, ids[2]!, ids[0]!];

  const first = await admin<OrderPage>("/admin/orders?customerId=c-a&limit=2");
  expect(first.status).toBe(200);
  expect(first.body.items.map((item) => item.id)).toEqual(ofA.slice(0, 2));
  expect(first.body.items[0]).toMatchObject({ customerId: "c-a", status: "completed" });
  const second = await admin<OrderPage>(`/admin/orders?customerId=c-a&limit=2&cursor=${first.body.nextCursor}`);
  expect(second.body.items.map((item) => item.id)).toEqual(ofA.slice(2));
  expect(second.body.nextCursor).toBeUndefined();

  const all = await admin<OrderPage>("/admin/orders");
  expect(all.body.items.map((item) => item.id)).toEqual([...ids].reverse());
  expect((await admin<OrderPage>("/admin/orders?status=completed&limit=100")).body.items).toHaveLength(5);
  expect((await admin<OrderPage>("/admin/orders?status=dead_lettered")).body.items).toEqual([]);

  expect((await admin("/admin/orders?cursor=nonsense")).status).toBe(400);
  expect((await admin("/admin/orders?limit=0")).status).toBe(400);
  expect((await admin("/admin/orders?status=lost")).status).toBe(400);
  expect((await service.app.request("/admin/orders")).status).toBe(401);
});

test("GET /admin/queues: ready, consumers, and the deliveries workers hold as unacknowledged", async () => {
  service = await startTestService({
    env: { ADMIN_TOKEN: TOKEN, SHUTDOWN_TIMEOUT_MS: "300" },
    transform: useOrderHandler("count-runs"),
  });
  const { id } = (await (await service.post(order("hold-8000"))).json()) as OrderJson;
  await until("the handler runs", async () => (await service!.testRedis.get(`runs:${id}`)) === "1");
  type Queues = { items: { name: string; messagesReady: number; messagesUnacknowledged: number; consumers: number }[] };
  let queues: Queues["items"] = [];
  await until(
    "the worker reported the delivery it holds",
    async () => {
      queues = (await admin<Queues>("/admin/queues")).body.items;
      return queues.find((queue) => queue.name === "orders.process")?.messagesUnacknowledged === 1;
    },
    10_000,
  );
  expect(queues.find((queue) => queue.name === "orders.process")).toEqual({
    name: "orders.process",
    messagesReady: 0,
    messagesUnacknowledged: 1,
    consumers: 1,
  });
  expect(queues.map((queue) => queue.name)).toContain("dead_letters");
  expect(queues.find((queue) => queue.name === "dead_letters")?.messagesUnacknowledged).toBe(0);
  expect((await service.app.request("/admin/queues")).status).toBe(401);
});

test("dead letters: filtered by reason and subscription, paged, replayed by filter or ids", async () => {
  service = await startTestService({ env: { ADMIN_TOKEN: TOKEN }, transform: useOrderHandler("permanent") });
  const ids: string[] = [];
  for (const customerId of ["c-1", "c-2"])
    ids.push(((await (await service.post(order(customerId))).json()) as OrderJson).id);
  await service.broker.publish(ORDER_PUBLICATION, Buffer.from("{ broken"), {
    messageId: "broken-1",
    contentType: "application/json",
  });
  for (const id of ids) await service.waitForOrder(id, (current) => current.status === "dead_lettered");
  await until(
    "three dead letters",
    async () => (await admin<DeadLetterPage>("/admin/dead-letters")).body.items.length === 3,
  );

  const count = async (query: string) =>
    (await admin<DeadLetterPage>(`/admin/dead-letters?${query}`)).body.items.length;
  expect(await count("reason=permanent")).toBe(2);
  expect(await count("reason=invalid_content")).toBe(1);
  expect(await count("subscription=process_order")).toBe(3);
  expect(await count("subscription=notify_customer")).toBe(0);
  const seen: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await admin<DeadLetterPage & { nextCursor?: string }>(
      `/admin/dead-letters?limit=1${cursor ? `&cursor=${cursor}` : ""}`,
    );
    seen.push(...page.body.items.map((item) => item.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  expect(new Set(seen).size).toBe(3);
  expect((await admin("/admin/dead-letters?reason=lost")).status).toBe(400);

  const replay = (filter: unknown) =>
    admin<{ replayed: number }>("/admin/dead-letters/replay", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(filter),
    });
  expect((await replay({ reason: "nope" })).status).toBe(422);
  // Only the invalid message goes (and dead-letters again); the orders stay dead letters.
  expect((await replay({ reason: "invalid_content" })).body).toEqual({ replayed: 1 });
  expect(await count("reason=permanent")).toBe(2);
  for (const id of ids) {
    const current = (await (await service.getOrder(id)).json()) as OrderJson;
    expect(current.history.map((entry) => entry.status)).not.toContain("replayed");
  }
  const [first] = (await admin<DeadLetterPage>("/admin/dead-letters?reason=permanent")).body.items;
  expect((await replay({ ids: [first!.id] })).body).toEqual({ replayed: 1 });
  const replayed = await service.waitForOrder(first!.orderId!, (current) =>
    current.history.some((entry) => entry.status === "replayed"),
  );
  expect(replayed.id).toBe(first!.orderId!);
  const other = ids.find((id) => id !== first!.orderId)!;
  const untouched = (await (await service.getOrder(other)).json()) as OrderJson;
  expect(untouched.history.map((entry) => entry.status)).not.toContain("replayed");
});
