import { afterEach, expect, test } from "bun:test";
import { until } from "./helpers/eventually";
import { freePort } from "./helpers/free-port";
import { PrivateRedis } from "./helpers/private-redis";
import { ProcessTestEnv, postOrder } from "./helpers/process-env";
import { ServiceProcess } from "./helpers/service-process";

const SECRET = `s3cret-${crypto.randomUUID()}`;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function failedStart(env: Record<string, string>): Promise<{ code: number; output: string }> {
  const service = new ServiceProcess({ env });
  cleanups.push(() => service.kill());
  const code = await service.exited;
  return { code, output: service.lines.join("\n") };
}

test("an unreachable broker stops start-up with a message naming it, password masked", async () => {
  const { code, output } = await failedStart({ AMQP_URL: `amqp://shop:${SECRET}@127.0.0.1:${freePort()}/` });
  expect(code).toBe(1);
  expect(output).toContain("cannot connect to RabbitMQ");
  expect(output).toContain("amqp://shop:***@127.0.0.1");
  expect(output).not.toContain(SECRET);
});

test("Redis refusing the password stops start-up with a message naming it, password masked", async () => {
  const redis = new PrivateRedis({ password: "the-right-one" });
  cleanups.push(() => redis.destroy());
  await redis.start();
  const { code, output } = await failedStart({ REDIS_URL: `redis://default:${SECRET}@127.0.0.1:${redis.port}` });
  expect(code).toBe(1);
  expect(output).toContain(`cannot connect to Redis at redis://default:***@127.0.0.1:${redis.port}`);
  expect(output).toContain("WRONGPASS");
  expect(output).not.toContain(SECRET);
});

test("no log line of a running service shows the Redis password, through an outage and a shutdown", async () => {
  const env = new ProcessTestEnv({ password: SECRET });
  cleanups.push(() => env.cleanup());
  await env.start("count-runs");
  const service = await env.spawn({ LOG_LEVEL: "debug" });
  const { id } = (await (await postOrder(service)).json()) as { id: string };
  await until("completed", async () => (await env.db.hget(`order:${id}`, "status")) === "completed");
  await env.redis.stop();
  await service.waitReady(10_000, false);
  await until("Redis errors logged", async () => service.lines.some((line) => line.includes("redis error")));
  await env.redis.start();
  await service.waitReady();
  service.signal("SIGTERM");
  expect(await service.exited).toBe(0);
  expect(service.lines.filter((line) => line.includes(SECRET))).toEqual([]);
});
