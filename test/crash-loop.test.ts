import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeadLetterStore } from "../src/store/dead-letter-store";
import { OrderStore } from "../src/store/order-store";
import { freePort } from "./helpers/free-port";
import { FIXTURE_HANDLERS, sampleOrder, startTestService } from "./helpers/service";
import { ServiceProcess } from "./helpers/service-process";

const cases = [
  { name: "the Redis attempt counter", maxAttempts: 2, deliveryLimit: 50, runs: "2", restarts: 2 },
  { name: "the quorum queue's delivery limit", maxAttempts: 10, deliveryLimit: 1, runs: "2", restarts: 2 },
];

test.each(cases)("a handler that kills its process every time is dead-lettered by $name", async (scenario) => {
  const id = crypto.randomUUID().slice(0, 8);
  const namespace = `t-${id}`;
  const keyPrefix = `test:${id}:`;
  const topology = JSON.parse(await Bun.file(new URL("../rascal.json", import.meta.url)).text());
  topology.vhosts["/"].namespace = namespace;
  topology.subscriptions.process_order.handler = "crash";
  topology.pipeline.retries.process_order = { delays: [100], maxAttempts: scenario.maxAttempts };
  topology.vhosts["/"].queues["orders.process"].options.arguments["x-delivery-limit"] = scenario.deliveryLimit;
  const dir = mkdtempSync(join(tmpdir(), "crash-loop-"));
  writeFileSync(join(dir, "rascal.json"), JSON.stringify(topology));
  const port = freePort();
  const env = {
    RASCAL_CONFIG: join(dir, "rascal.json"),
    HANDLERS_DIR: FIXTURE_HANDLERS,
    REDIS_KEY_PREFIX: keyPrefix,
    LOG_LEVEL: "warn",
  };
  const spawn = () => new ServiceProcess({ env, port });

  // A test service in the same namespace and key prefix reads the results and cleans up after.
  const observer = await startTestService({
    namespace,
    env: { ROLE: "api" },
    service: { keyPrefix },
    transform: (config) => {
      const queues = (config.vhosts["/"] as { queues: Record<string, any> }).queues;
      queues["orders.process"].options.arguments["x-delivery-limit"] = scenario.deliveryLimit;
      // The same ladder as the child's, so that closing the observer deletes its queues too.
      (config.pipeline as { retries: Record<string, unknown> }).retries.process_order = {
        delays: [100],
        maxAttempts: scenario.maxAttempts,
      };
    },
  });
  let child = spawn();
  try {
    await child.waitReady();
    const response = await fetch(`${child.baseUrl}/orders`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(sampleOrder()),
    });
    expect(response.status).toBe(202);
    const { id: orderId } = (await response.json()) as { id: string };

    const store = new OrderStore(observer.redis);
    const deadLettered = (async () => {
      for (let i = 0; i < 600; i++) {
        if ((await store.get(orderId))?.status === "dead_lettered") return "dead_lettered";
        await Bun.sleep(50);
      }
      return "timeout";
    })();
    let restarts = 0;
    // Each crash is followed by a restart, as a supervisor would do, until the order is given up.
    while (restarts < 5) {
      const outcome = await Promise.race([child.exited.then(() => "crashed"), deadLettered]);
      if (outcome !== "crashed") break;
      expect(child.signalCode).toBe("SIGKILL");
      restarts += 1;
      child = spawn();
    }
    const order = (await store.get(orderId))!;
    expect(order.status).toBe("dead_lettered");
    // Two starts crashed; the third delivery was stopped before the handler could start.
    expect(await observer.redis.get(`runs:${orderId}`)).toBe(scenario.runs);
    expect(restarts).toBe(scenario.restarts);
    expect(order.error?.permanent).toBe(false);

    let entries = await new DeadLetterStore(observer.redis).list();
    for (let i = 0; i < 100 && entries.length === 0; i++) {
      await Bun.sleep(50);
      entries = await new DeadLetterStore(observer.redis).list();
    }
    expect(entries[0]).toMatchObject({ orderId, reason: "redelivery_limit", queue: "orders.process" });
  } finally {
    await child.kill();
    await observer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
