import { afterAll, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { until } from "./helpers/eventually";
import { PrivateRedis } from "./helpers/private-redis";
import { PrivateSentinel } from "./helpers/private-sentinel";
import { acceptedAcross, expectEachCompletedOnce } from "./helpers/retrying-clients";
import { startTestService, type TestService, useOrderHandler } from "./helpers/service";

let primary: PrivateRedis;
let replica: PrivateRedis;
let sentinel: PrivateSentinel;
let service: TestService | undefined;

beforeAll(async () => {
  primary = new PrivateRedis();
  await primary.start();
  replica = new PrivateRedis({ replicaOf: primary.port });
  await replica.start();
  const replicaClient = replica.client();
  await until("the replica is in sync", async () =>
    (await replicaClient.info("replication")).includes("master_link_status:up"),
  );
  replicaClient.disconnect();
  sentinel = new PrivateSentinel({ primaryPort: primary.port });
  await sentinel.start();
});
afterAll(async () => {
  await service?.close();
  await Promise.allSettled([sentinel.destroy(), replica.destroy(), primary.destroy()]);
});

test("through Sentinel, the primary killed under load: a replica takes over, every 202 completes once", async () => {
  service = await startTestService({
    // With sentinels REDIS_URL gives only the database (its host is the shared Redis, which the
    // test helper's own client and clean-up use; the service goes where the sentinels say).
    env: { REDIS_SENTINELS: `127.0.0.1:${sentinel.port}`, LOG_LEVEL: "fatal" },
    transform: useOrderHandler("count-runs"),
  });
  const clients = await acceptedAcross(service, {
    keyPrefix: "sentinel",
    fault: async () => {
      await primary.stop("SIGKILL");
      await until("the sentinel promoted the replica", async () => (await sentinel.master()) === replica.port, 30_000);
    },
  });
  // Read through the service, which now reaches the promoted replica.
  await expectEachCompletedOnce(service, clients);
  const { accepted } = clients;
  const promoted = new Redis({ port: replica.port, keyPrefix: service.keyPrefix });
  try {
    expect(await promoted.call("ROLE").then((role) => (role as string[])[0])).toBe("master");
    // The records are on the promoted replica: the service followed the sentinels to it.
    const onPromoted = await Promise.all(accepted.map((id) => promoted.exists(`order:${id}`)));
    expect(onPromoted.every((exists) => exists === 1)).toBe(true);
  } finally {
    promoted.disconnect();
  }
}, 90_000);
