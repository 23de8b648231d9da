import { afterEach, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import Redis from "ioredis";
import { eventually } from "./helpers/eventually";
import { freePort } from "./helpers/free-port";
import { startTestService, type TestService } from "./helpers/service";

// A private Redis for this test only: the shared one on 6379 is never stopped.
let redisServer: Subprocess | undefined;
let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
  redisServer?.kill("SIGKILL");
  await redisServer?.exited;
  redisServer = undefined;
});

async function startRedis(port: number): Promise<Subprocess> {
  const child = Bun.spawn(
    ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdout: "ignore", stderr: "ignore" },
  );
  const client = new Redis(port, "127.0.0.1", {
    lazyConnect: true,
    retryStrategy: () => 50,
    maxRetriesPerRequest: null,
  });
  // Refused connections are expected until the server is up.
  client.on("error", () => {});
  await eventually(
    () => client.ping().catch(() => "down"),
    (answer) => answer === "PONG",
  );
  client.disconnect();
  return child;
}

const readiness = async () => {
  const response = await service!.app.request("/readyz");
  return { status: response.status, body: (await response.json()) as { checks: Record<string, boolean> } };
};

test("/readyz answers 503 while Redis is unreachable and 200 again once it is back", async () => {
  const port = freePort();
  redisServer = await startRedis(port);
  service = await startTestService({
    env: { ROLE: "api", REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: "fatal" },
  });
  expect(await readiness()).toMatchObject({ status: 200, body: { checks: { broker: true, redis: true } } });

  redisServer.kill("SIGKILL");
  await redisServer.exited;
  const down = await eventually(readiness, (answer) => answer.status === 503);
  expect(down.body.checks).toMatchObject({ broker: true, redis: false });
  expect((await service.app.request("/healthz")).status).toBe(200);

  redisServer = await startRedis(port);
  await eventually(readiness, (answer) => answer.status === 200);
});

test("/readyz answers 503 within 2 s while a connected Redis is stalled (CLIENT PAUSE), 200 after", async () => {
  const port = freePort();
  redisServer = await startRedis(port);
  service = await startTestService({
    env: { ROLE: "api", REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: "fatal" },
  });
  expect((await readiness()).status).toBe(200);

  const admin = new Redis(port, "127.0.0.1");
  await admin.call("CLIENT", "PAUSE", "4000", "ALL");
  const started = performance.now();
  const stalled = await readiness();
  const tookMs = performance.now() - started;
  expect(stalled.status).toBe(503);
  expect(stalled.body.checks).toMatchObject({ broker: true, redis: false });
  expect(tookMs).toBeLessThan(2000);
  admin.disconnect();
  await eventually(readiness, (answer) => answer.status === 200, 10_000);
});
