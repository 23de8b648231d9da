import { afterEach, beforeEach, expect, test } from "bun:test";
import { until } from "./helpers/eventually";
import { ProcessTestEnv, postOrder } from "./helpers/process-env";
import { TcpProxy } from "./helpers/tcp-proxy";

let env: ProcessTestEnv;
let proxy: TcpProxy | undefined;
beforeEach(async () => {
  env = new ProcessTestEnv();
  await env.start("count-runs");
});
afterEach(async () => {
  proxy?.close();
  proxy = undefined;
  await env.cleanup();
});

const status = (id: string) => env.db.hget(`order:${id}`, "status");

test("kill -9 mid-handler: the message is redelivered and completes on the next worker", async () => {
  const first = await env.spawn();
  const { id } = (await (await postOrder(first, 1500)).json()) as { id: string };
  await until("the handler started", async () => (await env.db.get(`runs:${id}`)) === "1");

  first.signal("SIGKILL");
  await first.exited;
  // The dead worker's claim would run out after its 30 s lease; end it now instead of waiting.
  expect(await env.db.del(`lease:process_order:${id}`)).toBe(1);

  await env.spawn();
  await until("the order completed", async () => (await status(id)) === "completed");
  expect(await env.db.get(`runs:${id}`)).toBe("2");
  expect(await env.db.hget(`order:${id}`, "attempts")).toBe("2");
  const history = (await env.db.lrange(`order:${id}:history`, 0, -1)).map(
    (entry) => (JSON.parse(entry) as { status: string }).status,
  );
  expect(history).toEqual(["accepted", "processing", "processing", "completed"]);
});

test("a crash after the completion was recorded but before the ack does not run the handler again", async () => {
  // The first worker reaches the broker through a relay the test can silence: its ack is lost.
  proxy = new TcpProxy("127.0.0.1", 5672);
  const first = await env.spawn({ AMQP_URL: `amqp://guest:guest@127.0.0.1:${proxy.port}` });
  const { id } = (await (await postOrder(first, 500)).json()) as { id: string };
  await until("the handler started", async () => (await env.db.get(`runs:${id}`)) === "1");
  proxy.freeze();
  await until("the completion was recorded", async () => (await status(id)) === "completed");
  first.signal("SIGKILL");
  await first.exited;
  proxy.close();

  const second = await env.spawn();
  await until("the redelivered copy was skipped as a duplicate", async () =>
    second.lines.some((line) => line.includes(id) && line.includes('"outcome":"duplicate"')),
  );
  expect(await env.db.get(`runs:${id}`)).toBe("1");
  expect(await env.readyMessages("orders.process")).toBe(0);
  expect(await status(id)).toBe("completed");
});
