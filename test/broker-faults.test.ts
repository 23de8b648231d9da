import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { until } from "./helpers/eventually";
import { canRunPrivateRabbitMQ, PrivateRabbitMQ } from "./helpers/private-rabbitmq";
import {
  expectProblem,
  type OrderJson,
  orderRecordCount,
  sampleOrder,
  startTestService,
  type TestService,
  useOrderHandler,
} from "./helpers/service";

// These tests stop, block and disconnect a broker: a private node, never the shared one.
let broker: PrivateRabbitMQ;
let service: TestService | undefined;
// Missing rabbitmq-server is a failure, not a skip: a suite skipped in CI would pass silently.
if (!canRunPrivateRabbitMQ) {
  test("broker fault tests need rabbitmq-server (scripts/ensure-env.sh installs it)", () => {
    throw new Error("rabbitmq-server is not installed here: the broker fault tests cannot run");
  });
}

describe.if(canRunPrivateRabbitMQ)("broker faults (private RabbitMQ node)", () => {
  beforeAll(async () => {
    broker = new PrivateRabbitMQ();
    await broker.start();
  }, 90_000);
  afterAll(async () => {
    await broker?.destroy();
  }, 30_000);
  afterEach(async () => {
    await service?.close();
    service = undefined;
  });

  const start = () =>
    startTestService({
      // Connection errors are the point here: keep them out of the test output.
      env: { AMQP_URL: broker.url, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "fatal" },
      transform: useOrderHandler("count-runs"),
      service: { confirmTimeoutMs: 1000 },
    });
  const readyz = async () => (await service!.app.request("/readyz")).status;
  const accept = async (body: unknown = sampleOrder(), target: TestService = service!) => {
    const response = await target.post(body);
    expect(response.status).toBe(202);
    return (await response.json()) as OrderJson;
  };
  const workQueue = async () =>
    (await broker.queues(`${service!.namespace}:orders.process`)).find((queue) =>
      queue.name.endsWith(":orders.process"),
    );

  test("memory alarm: 503 with Retry-After, not ready; once cleared all flows, the refused stay refused", async () => {
    service = await start();
    const before = await accept();
    await service.waitForOrder(before.id, (order) => order.status === "completed");

    await broker.setMemoryAlarm(true);
    try {
      // The broker tells a connection it is blocked when it next publishes: this first order
      // waits for a confirm that does not come, the ones after it are refused at once.
      const refused = await service.post(sampleOrder());
      const first = await expectProblem(refused, 503);
      expect(first.detail).toContain("(timeout)");
      expect(refused.headers.get("retry-after")).toBeTruthy();
      await until("readyz 503", async () => (await readyz()) === 503);
      const second = await expectProblem(await service.post(sampleOrder()), 503);
      expect(second.detail).toContain("(blocked)");
    } finally {
      await broker.setMemoryAlarm(false);
    }

    await until("readyz 200", async () => (await readyz()) === 200);
    const after = await accept();
    await service.waitForOrder(after.id, (order) => order.status === "completed");
    // The timed-out order's message reaches the queue once the broker reads again (a late
    // confirm): the worker drops it, and no order record is left for it.
    await until("the late message was dropped", async () =>
      (await service!.metrics.messagesConsumed.get()).values.some(
        (v) => v.labels.outcome === "dropped" && v.value === 1,
      ),
    );
    await until("work queue drained", async () => {
      const queue = await workQueue();
      return queue !== undefined && queue.ready + queue.unacked === 0;
    });
    expect(await orderRecordCount(service!)).toBe(2);
  });

  test("broker restart mid-handler: 503, not ready while down; reconnects, resubscribes, ran once", async () => {
    service = await start();
    const running = await accept({ ...sampleOrder(), customerId: "hold-1500" });
    await until("handler started", async () => (await service!.testRedis.get(`runs:${running.id}`)) === "1");

    await broker.stopApp();
    try {
      await until("readyz 503", async () => (await readyz()) === 503);
      const refused = await service.post(sampleOrder());
      await expectProblem(refused, 503);
      expect(refused.headers.get("retry-after")).toBeTruthy();
    } finally {
      await broker.startApp();
    }

    await until("readyz 200", async () => (await readyz()) === 200, 60_000);
    // The ack of the running message died with the connection: it comes back as a duplicate.
    await service.waitForOrder(running.id, (order) => order.status === "completed", 30_000);
    const after = await accept();
    await service.waitForOrder(after.id, (order) => order.status === "completed", 30_000);
    await until("work queue drained", async () => {
      const queue = await workQueue();
      return queue !== undefined && queue.ready + queue.unacked === 0;
    });
    expect(await service.testRedis.get(`runs:${running.id}`)).toBe("1");
    expect(await orderRecordCount(service!)).toBe(2);
  }, 90_000);

  test("stopping while the broker is down still ends; the next service finishes the unacked message", async () => {
    const first = await start();
    let second: TestService | undefined;
    try {
      // Held long enough that the broker is surely down before the handler ends (stop_app can take a second).
      const running = await accept({ ...sampleOrder(), customerId: "hold-3000" }, first);
      await until("handler started", async () => (await first.testRedis.get(`runs:${running.id}`)) === "1");
      await broker.stopApp();
      try {
        await first.stop();
      } finally {
        await broker.startApp();
      }
      // Same queues and Redis keys: the next service of the same deployment.
      second = await startTestService({
        env: { AMQP_URL: broker.url, LOG_LEVEL: "fatal" },
        transform: useOrderHandler("count-runs"),
        namespace: first.namespace,
        service: { keyPrefix: first.keyPrefix },
      });
      // The handler finished during the drain; its ack died with the broker: a duplicate now.
      await until(
        "redelivered copy skipped",
        async () =>
          (await second!.metrics.messagesConsumed.get()).values.some(
            (v) => v.labels.outcome === "duplicate" && v.value > 0,
          ),
        30_000,
      );
      expect(await first.testRedis.hget(`order:${running.id}`, "status")).toBe("completed");
      expect(await first.testRedis.get(`runs:${running.id}`)).toBe("1");
    } finally {
      await second?.close();
      await first.close();
    }
  }, 60_000);

  test("a frozen broker (connections open, no answers): /readyz 503 within 2 s; ready again once thawed", async () => {
    service = await start();
    expect(await readyz()).toBe(200);
    await broker.freeze();
    try {
      // Every answer comes within the deadline, and the frozen broker is seen within a few.
      let status = 200;
      for (let asked = 0; asked < 3 && status !== 503; asked++) {
        const started = performance.now();
        status = await readyz();
        expect(performance.now() - started).toBeLessThan(2000);
      }
      expect(status).toBe(503);
    } finally {
      broker.thaw();
    }
    await until("ready again", async () => (await readyz()) === 200);
  });

  test("connections closed by the broker: the service reconnects and consumes again", async () => {
    service = await start();
    await broker.closeAllConnections();
    await until("reconnected", async () => (await readyz()) === 200 && service!.broker.ready);
    const after = await accept();
    await service.waitForOrder(after.id, (order) => order.status === "completed", 30_000);
  });
});
