import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { ConfigError, loadConfig } from "../src/config";
import { clusterKeys } from "../src/store/keys";
import { until } from "./helpers/eventually";
import { PrivateRedisCluster } from "./helpers/private-redis-cluster";
import { acceptedAcross, expectEachCompletedOnce } from "./helpers/retrying-clients";
import { type OrderJson, sampleOrder, startTestService, type TestService, useOrderHandler } from "./helpers/service";

const TOKEN = `cluster-admin-${crypto.randomUUID()}`;
const PASSWORD = `pw-${crypto.randomUUID()}`;

let cluster: PrivateRedisCluster;
let service: TestService | undefined;

beforeAll(async () => {
  cluster = new PrivateRedisCluster({ masters: 3, password: PASSWORD });
  await cluster.start();
});
afterEach(async () => {
  await service?.close();
  service = undefined;
});
afterAll(async () => {
  await cluster.destroy();
});

/** A service whose Redis is the private cluster (REDIS_URL only carries the password then). */
function startOnCluster(handler: string): Promise<TestService> {
  return startTestService({
    env: {
      REDIS_CLUSTER_NODES: cluster.nodes,
      REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:6379`,
      ADMIN_TOKEN: TOKEN,
      LOG_LEVEL: "fatal",
    },
    transform: useOrderHandler(handler),
  });
}

async function admin<T>(path: string): Promise<T> {
  const response = await service!.app.request(path, { headers: { Authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as T;
}

test("REDIS_CLUSTER_NODES is checked at start-up: its form, and neither with Sentinel nor with a database", () => {
  const message = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error("the configuration was taken");
  };
  expect(message({ REDIS_CLUSTER_NODES: "redis-1" })).toContain("REDIS_CLUSTER_NODES: must be host:port");
  expect(message({ REDIS_CLUSTER_NODES: "a:7000", REDIS_SENTINELS: "s:26379" })).toContain(
    "REDIS_CLUSTER_NODES: set either REDIS_SENTINELS or REDIS_CLUSTER_NODES",
  );
  expect(message({ REDIS_CLUSTER_NODES: "a:7000", REDIS_URL: "redis://a:7000/2" })).toContain(
    "REDIS_URL: Redis Cluster has only database 0",
  );
  expect(loadConfig({ REDIS_CLUSTER_NODES: "a:7000,b:7001" }).REDIS_CLUSTER_NODES).toBe("a:7000,b:7001");
});

test("on Redis Cluster: orders complete once, a key replays, the listing finds them, keys share a slot", async () => {
  service = await startOnCluster("count-runs");
  const customerId = `c-cluster-${crypto.randomUUID().slice(0, 8)}`;
  const ids: string[] = [];
  for (let n = 0; n < 30; n++) {
    const headers: Record<string, string> = n % 3 === 0 ? {} : { "Idempotency-Key": `cluster-${customerId}-${n}` };
    const response = await service.post({ ...sampleOrder(), customerId }, headers);
    expect(response.status).toBe(202);
    ids.push(((await response.json()) as OrderJson).id);
  }
  // The same request again: the same order, replayed, not a second one.
  const again = await service.post({ ...sampleOrder(), customerId }, { "Idempotency-Key": `cluster-${customerId}-1` });
  expect(again.status).toBe(202);
  expect(again.headers.get("idempotent-replayed")).toBe("true");
  expect(((await again.json()) as OrderJson).id).toBe(ids[1]!);

  for (const id of ids) {
    const order = await service.waitForOrder(id, (current) => current.status === "completed");
    expect(order.history.filter((entry) => entry.status === "completed")).toHaveLength(1);
    expect(order.result).toEqual({ runs: 1 });
  }
  const listed = await admin<{ items: OrderJson[] }>(`/admin/orders?customerId=${customerId}&limit=100`);
  expect(listed.items.map((order) => order.id).sort()).toEqual([...ids].sort());

  const redis = cluster.client(service.keyPrefix);
  try {
    const slot = async (key: string) => Number(await redis.call("CLUSTER", "KEYSLOT", `${service!.keyPrefix}${key}`));
    const keyed = ids[1]!;
    const orderSlot = await slot(clusterKeys.order(keyed));
    expect(await slot(clusterKeys.history(keyed))).toBe(orderSlot);
    expect(await slot(clusterKeys.message("process_order", keyed, keyed))).toBe(orderSlot);
    expect(await redis.hget(clusterKeys.order(keyed), "status")).toBe("completed");
    // The orders are spread over the cluster: more than one master holds some.
    const holding = await Promise.all(
      redis.nodes("master").map(async (node) => (await node.keys(`${service!.keyPrefix}order:*`)).length > 0),
    );
    expect(holding.filter(Boolean).length).toBeGreaterThan(1);
  } finally {
    redis.disconnect();
  }
}, 60_000);

test("on Redis Cluster: a failing order is dead-lettered and listed, and a replay runs it again", async () => {
  service = await startOnCluster("permanent");
  const response = await service.post(sampleOrder());
  expect(response.status).toBe(202);
  const { id } = (await response.json()) as OrderJson;
  await service.waitForOrder(id, (order) => order.status === "dead_lettered");
  const page = await admin<{ items: { id: string; orderId: string }[] }>("/admin/dead-letters");
  const entry = page.items.find((item) => item.orderId === id);
  expect(entry).toBeDefined();
  const replay = await service.app.request(`/admin/dead-letters/${entry!.id}/replay`, {
    method: "POST",
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  expect(replay.status).toBe(202);
  const replayed = await service.waitForOrder(
    id,
    (order) => order.history.filter((item) => item.status === "dead_lettered").length === 2,
  );
  expect(replayed.history.map((item) => item.status)).toContain("replayed");
}, 60_000);

test("on Redis Cluster, a primary killed under load: its replica takes over, every 202 completes once", async () => {
  const replicated = new PrivateRedisCluster({ masters: 3, replicasPerMaster: 1, password: PASSWORD });
  try {
    await replicated.start();
    service = await startTestService({
      env: {
        REDIS_CLUSTER_NODES: replicated.nodes,
        REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:6379`,
        LOG_LEVEL: "fatal",
      },
      transform: useOrderHandler("count-runs"),
    });
    const clients = await acceptedAcross(service, {
      keyPrefix: "cluster-failover",
      fault: async () => {
        const [victim] = await replicated.masters();
        await victim!.stop("SIGKILL");
        await until("its replica took over", async () => (await replicated.masters()).length === 3, 30_000);
      },
    });
    for (const order of await expectEachCompletedOnce(service, clients)) expect(order.result).toEqual({ runs: 1 });
    // Three primaries again: the dead one's replica took its slots over.
    expect(await replicated.masters()).toHaveLength(3);
  } finally {
    await service?.close();
    service = undefined;
    await replicated.destroy();
  }
}, 90_000);
