import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeadLetterStore } from "../src/store/dead-letter-store";
import { OrderStore } from "../src/store/order-store";
import { freePort, spawnService, waitForHealthy } from "./helpers/process";
import { FIXTURE_HANDLERS, sampleOrder, startTestService } from "./helpers/service";

test("a handler that kills its process every time is dead-lettered by the redelivery limit", async () => {
  const id = crypto.randomUUID().slice(0, 8);
  const namespace = `t-${id}`;
  const keyPrefix = `test:${id}:`;
  const topology = JSON.parse(await Bun.file(new URL("../rascal.json", import.meta.url)).text());
  topology.vhosts["/"].namespace = namespace;
  topology.subscriptions.process_order.handler = "crash";
  topology.pipeline.retries.process_order = { delays: [100], maxAttempts: 2 };
  const dir = mkdtempSync(join(tmpdir(), "crash-loop-"));
  writeFileSync(join(dir, "rascal.json"), JSON.stringify(topology));
  const port = freePort();
  const env = { RASCAL_CONFIG: join(dir, "rascal.json"), HANDLERS_DIR: FIXTURE_HANDLERS, REDIS_KEY_PREFIX: keyPrefix, PORT: String(port) };

  // A test service in the same namespace and key prefix reads the results and cleans up after.
  const observer = await startTestService({ namespace, env: { ROLE: "api" }, service: { keyPrefix } });
  let child = spawnService(env);
  try {
    await waitForHealthy(port, child);
    const response = await fetch(`http://127.0.0.1:${port}/orders`, {
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
      child = spawnService(env);
    }
    const order = (await store.get(orderId))!;
    expect(order.status).toBe("dead_lettered");
    // Two starts were allowed; both crashed; the third delivery was stopped before the handler.
    expect(await observer.redis.get(`runs:${orderId}`)).toBe("2");
    expect(restarts).toBe(2);
    expect(order.error?.permanent).toBe(false);

    let entries = await new DeadLetterStore(observer.redis).list();
    for (let i = 0; i < 100 && entries.length === 0; i++) {
      await Bun.sleep(50);
      entries = await new DeadLetterStore(observer.redis).list();
    }
    expect(entries[0]).toMatchObject({ orderId, reason: "redelivery_limit", attempts: 2 });
  } finally {
    child.kill("SIGKILL");
    await child.exited;
    await observer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
