import { afterEach, describe, expect, test } from "bun:test";
import { deadLettersCommand } from "../src/cli/dead-letters";
import { healthcheck } from "../src/cli/healthcheck";
import type { Output } from "../src/cli/output";
import { runCommand } from "../src/cli/run-command";
import { loadConfig } from "../src/config";
import { type OrderJson, sampleOrder, startTestService, type TestService, useOrderHandler } from "./helpers/service";
import { writeTopologyFile } from "./helpers/service-process";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

function captureOutput(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (line) => void stdout.push(line), err: (line) => void stderr.push(line) };
}

const TOKEN = "cli-test-admin-token";

/** A service whose order handler fails until `fixed` is set, dead-lettering at the first failure. */
async function serviceWithDeadLetters(): Promise<TestService> {
  return startTestService({
    env: { ADMIN_TOKEN: TOKEN, LOG_LEVEL: "fatal" },
    transform: useOrderHandler("fail-until-fixed", { delays: [50], maxAttempts: 1 }),
  });
}

async function deadLetterAnOrder(running: TestService): Promise<string> {
  const { id } = (await (await running.post(sampleOrder())).json()) as OrderJson;
  await running.waitForOrder(id, (order) => order.status === "dead_lettered");
  return id;
}

const adminList = async (running: TestService) =>
  (
    await running.app.request("/admin/dead-letters", { headers: { Authorization: `Bearer ${TOKEN}` } })
  ).json() as Promise<{ items: { id: string; orderId: string }[] }>;

describe("dead-letters", () => {
  test("list shows what the admin API shows, and replay re-runs the order", async () => {
    service = await serviceWithDeadLetters();
    const orderId = await deadLetterAnOrder(service);
    // The recorder stores the dead letter after the order's status changed.
    let listed = await adminList(service);
    for (
      const deadline = Date.now() + 10_000;
      listed.items.length === 0 && Date.now() < deadline;
      listed = await adminList(service)
    )
      await Bun.sleep(25);
    expect(listed.items.map((item) => item.orderId)).toEqual([orderId]);
    const id = listed.items[0]!.id;

    const json = captureOutput();
    expect(await deadLettersCommand(["list", "--json"], service.deadLetters, json)).toBe(0);
    expect(JSON.parse(json.stdout.join("\n"))).toEqual(listed);

    const table = captureOutput();
    expect(await deadLettersCommand(["list"], service.deadLetters, table)).toBe(0);
    expect(table.stdout[0]).toStartWith("ID");
    expect(table.stdout[1]).toContain(id);
    expect(table.stdout[1]).toContain("max_attempts");

    await service.testRedis.set("fixed", "1");
    const replay = captureOutput();
    expect(await deadLettersCommand(["replay", id], service.deadLetters, replay)).toBe(0);
    expect(replay.stdout).toEqual([`replayed ${id}`]);
    const order = await service.waitForOrder(orderId, (current) => current.status === "completed");
    expect(order.history.map((entry) => entry.status)).toContain("replayed");
    expect((await adminList(service)).items).toEqual([]);

    const again = captureOutput();
    expect(await deadLettersCommand(["replay", id], service.deadLetters, again)).toBe(1);
    expect(again.stderr.join("\n")).toContain("no dead letter");
  });

  test("purge needs --yes, then deletes every dead letter; delete removes one", async () => {
    service = await serviceWithDeadLetters();
    await Promise.all([deadLetterAnOrder(service), deadLetterAnOrder(service), deadLetterAnOrder(service)]);
    let listed = await adminList(service);
    for (
      const deadline = Date.now() + 10_000;
      listed.items.length < 3 && Date.now() < deadline;
      listed = await adminList(service)
    )
      await Bun.sleep(25);
    expect(listed.items).toHaveLength(3);

    const deleted = captureOutput();
    expect(await deadLettersCommand(["delete", listed.items[0]!.id], service.deadLetters, deleted)).toBe(0);
    expect(await deadLettersCommand(["delete", "not-an-id"], service.deadLetters, captureOutput())).toBe(1);

    const refused = captureOutput();
    expect(await deadLettersCommand(["purge"], service.deadLetters, refused)).toBe(2);
    expect(refused.stderr.join("\n")).toContain("--yes");
    expect((await adminList(service)).items).toHaveLength(2);

    const purged = captureOutput();
    expect(await deadLettersCommand(["purge", "--yes"], service.deadLetters, purged)).toBe(0);
    expect(purged.stdout).toEqual(["deleted 2"]);
    expect((await adminList(service)).items).toEqual([]);
  });
});

test("healthcheck exits 0 while the service answers on PORT, 1 once it is gone", async () => {
  service = await startTestService({ env: { PORT: "0", ROLE: "api" }, service: { listen: true } });
  const config = loadConfig({ PORT: String(service.server!.port) });
  expect(await healthcheck(config, [], captureOutput())).toBe(0);
  expect(await healthcheck(config, ["--ready"], captureOutput())).toBe(0);
  await service.close();
  service = undefined;
  const down = captureOutput();
  expect(await healthcheck(config, [], down)).toBe(1);
  expect(down.stderr.join("\n")).toContain("/healthz");
});

test("a mistyped option or an extra argument is a usage error (exit 2), before anything is touched", async () => {
  const config = loadConfig({ PORT: "1" });
  for (const argv of [
    ["healthcheck", "--readyy"],
    ["topology", "print", "extra"],
    ["--print-topology", "--pretty"],
    ["dead-letters", "list", "--bogus"],
    ["dead-letters", "list", "extra"],
    ["dead-letters", "replay", "a", "b"],
    ["dead-letters", "purge", "--force"],
    ["dead-letters", "unknown"],
  ]) {
    const output = captureOutput();
    expect({ argv, code: await runCommand(argv, config, output) }).toEqual({ argv, code: 2 });
    expect(output.stderr.join("\n")).toMatch(/unknown|unexpected/);
  }
});

describe("orders", () => {
  test("orders cancel cancels an order as the API does; an unknown id exits 1; no id is a usage error", async () => {
    service = await startTestService({ env: { ROLE: "api", LOG_LEVEL: "fatal" } });
    const namespace = service.namespace;
    const topology = await writeTopologyFile((config) => {
      config.vhosts["/"].namespace = namespace;
    });
    try {
      const config = loadConfig({
        RASCAL_CONFIG: topology.path,
        REDIS_KEY_PREFIX: service.keyPrefix,
        LOG_LEVEL: "fatal",
      });
      const { id } = (await (await service.post(sampleOrder())).json()) as OrderJson;
      const cancelled = captureOutput();
      expect(await runCommand(["orders", "cancel", id], config, cancelled)).toBe(0);
      expect(cancelled.stdout).toEqual([`cancelled ${id}`]);
      expect((await service.waitForOrder(id, () => true)).status).toBe("cancelled");

      const unknown = captureOutput();
      expect(await runCommand(["orders", "cancel", crypto.randomUUID()], config, unknown)).toBe(1);
      const usage = captureOutput();
      expect(await runCommand(["orders", "cancel"], config, usage)).toBe(2);
      expect(usage.stderr[0]).toBe("cancel needs an order id");
    } finally {
      topology.cleanup();
    }
  });
});
