import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { BrokerAsPromised } from "rascal";
import { compileBinary } from "../scripts/build";
import { loadTopology } from "../src/broker/topology";
import { deleteKeys, type OrderJson } from "./helpers/service";

const REPO = new URL("..", import.meta.url).pathname;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

let dir: string;
let binary: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "order-pipeline-binary-"));
  binary = join(dir, "order-pipeline");
  const started = performance.now();
  await compileBinary(binary);
  console.log(
    `compiled ${binary} in ${Math.round(performance.now() - started)} ms ` +
      `(${(Bun.file(binary).size / 2 ** 20).toFixed(0)} MiB)`,
  );
}, 120_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A directory with nothing in it: no rascal.json, no handlers/. */
function emptyDir(name: string): string {
  const path = join(dir, name);
  mkdirSync(path);
  return path;
}

const baseEnv = () => ({ PATH: process.env.PATH!, HOME: dir, LOG_LEVEL: "error" });

/** Runs a one-shot command of the binary. */
async function run(args: string[], env: Record<string, string>, cwd: string) {
  const child = Bun.spawn([binary, ...args], { cwd, env: { ...baseEnv(), ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  return { code, stdout, stderr };
}

test("from an empty directory the binary uses its built-in rascal.json", async () => {
  const result = await run(["topology", "print"], {}, emptyDir("print"));
  expect(result.code).toBe(0);
  expect(result.stderr).toContain("built-in rascal.json");
  const printed = JSON.parse(result.stdout);
  expect(Object.keys(printed.vhosts["/"].queues)).toEqual(
    expect.arrayContaining(["orders.process", "orders.process.retry.1000ms", "dead_letters"]),
  );
  expect(printed.subscriptions.process_order.handler).toBe("process-order");
  expect(result.stdout).not.toContain("guest:guest");
});

test("the compiled binary serves an order end to end, runs the CLI, and exits 0 on SIGTERM", async () => {
  const id = crypto.randomUUID().slice(0, 8);
  // Isolation on the shared broker and Redis: the supported knobs, a Rascal namespace in the
  // rascal.json given to the binary and REDIS_KEY_PREFIX.
  const rascal = JSON.parse(await Bun.file(join(REPO, "rascal.json")).text());
  rascal.vhosts["/"].namespace = `bin-${id}`;
  const rascalPath = join(dir, `rascal-${id}.json`);
  writeFileSync(rascalPath, JSON.stringify(rascal));
  // A handler file on disk wins over the built-in one of the same name; process-order stays built in.
  const handlersDir = join(dir, `handlers-${id}`);
  mkdirSync(handlersDir);
  writeFileSync(
    join(handlersDir, "notify-customer.ts"),
    `type Ctx = { redis: { set(key: string, value: string): Promise<unknown> } };
    export default async function (message: { orderId: string }, ctx: Ctx) {
      await ctx.redis.set("disk-handler:" + message.orderId, "ran");
      return { fromDisk: true };
    }\n`,
  );
  const keyPrefix = `bin-${id}:`;
  const env = {
    RASCAL_CONFIG: rascalPath,
    HANDLERS_DIR: handlersDir,
    REDIS_KEY_PREFIX: keyPrefix,
    ADMIN_TOKEN: "binary-test-admin-token",
  };
  const cwd = emptyDir(`run-${id}`);
  const redis = new Redis(REDIS_URL, { keyPrefix });

  const started = performance.now();
  const child = Bun.spawn([binary], {
    cwd,
    env: { ...baseEnv(), ...env, PORT: "0", LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderr = new Response(child.stderr).text();
  try {
    const port = await listeningPort(child.stdout);
    console.log(`binary listening after ${Math.round(performance.now() - started)} ms`);
    const base = `http://127.0.0.1:${port}`;
    const post = (body: unknown) =>
      fetch(`${base}/orders`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const waitForStatus = async (orderId: string, status: string) => {
      const deadline = Date.now() + 15_000;
      let order: OrderJson | undefined;
      while (Date.now() < deadline) {
        order = (await (await fetch(`${base}/orders/${orderId}`)).json()) as OrderJson;
        if (order.status === status) return order;
        await Bun.sleep(25);
      }
      throw new Error(`order ${orderId} did not become ${status}: ${JSON.stringify(order)}`);
    };

    // The built-in process-order handler, then notify-customer from disk.
    const accepted = await post({ customerId: "c-bin", items: [{ sku: "BIN-FREE", quantity: 1, unitPrice: 5 }] });
    expect(accepted.status).toBe(202);
    const { id: orderId } = (await accepted.json()) as OrderJson;
    const completed = await waitForStatus(orderId, "completed");
    expect((completed.result as { paymentId?: string }).paymentId).toStartWith("pay_");
    for (const deadline = Date.now() + 10_000; !(await redis.get(`disk-handler:${orderId}`)) && Date.now() < deadline; )
      await Bun.sleep(25);
    expect(await redis.get(`disk-handler:${orderId}`)).toBe("ran");

    expect((await run(["healthcheck"], { PORT: String(port) }, cwd)).code).toBe(0);

    // Out of stock is permanent: dead-lettered; the CLI lists it and, once restocked, replays it.
    await redis.set("stock:BIN-SKU", "1");
    const short = (await (
      await post({ customerId: "c-bin", items: [{ sku: "BIN-SKU", quantity: 2, unitPrice: 5 }] })
    ).json()) as OrderJson;
    await waitForStatus(short.id, "dead_lettered");
    for (const deadline = Date.now() + 10_000; (await redis.zcard("dl:index")) === 0 && Date.now() < deadline; )
      await Bun.sleep(25);
    const listed = await run(["dead-letters", "list", "--json"], env, cwd);
    expect(listed.code).toBe(0);
    const items = (JSON.parse(listed.stdout) as { items: { id: string; orderId: string; reason: string }[] }).items;
    expect(items).toMatchObject([{ orderId: short.id, reason: "permanent" }]);
    await redis.set("stock:BIN-SKU", "5");
    const replayed = await run(["dead-letters", "replay", items[0]!.id], env, cwd);
    expect(replayed.stderr).toBe("");
    expect(replayed.code).toBe(0);
    await waitForStatus(short.id, "completed");
    expect(await redis.get("stock:BIN-SKU")).toBe("3");

    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  } catch (error) {
    child.kill("SIGKILL");
    console.error(await stderr);
    throw error;
  } finally {
    redis.disconnect();
    await deleteNamespace(rascalPath);
    await deleteKeys(keyPrefix);
  }
});

/** Reads the binary's JSON log until its "listening" line, then keeps draining the pipe. */
async function listeningPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stdout.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the binary exited before listening; output: ${buffered}`);
    buffered += decoder.decode(value, { stream: true });
    const line = buffered.split("\n").find((text) => text.includes('"msg":"listening"'));
    if (line) {
      // Keep reading so that a full pipe never blocks the binary's logging.
      (async () => {
        while (!(await reader.read()).done);
      })().catch(() => {});
      return (JSON.parse(line) as { port: number }).port;
    }
  }
}

/** Deletes the namespaced queues and exchanges the binary declared. */
async function deleteNamespace(rascalPath: string): Promise<void> {
  const topology = loadTopology({ path: rascalPath, defaultAmqpUrl: "amqp://guest:guest@127.0.0.1:5672" });
  const broker = await BrokerAsPromised.create(topology.rascal as never);
  await broker.nuke();
}
