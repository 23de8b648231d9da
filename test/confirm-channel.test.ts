import { afterEach, expect, test } from "bun:test";
import { ConfirmChannel, type SettleFailure } from "../src/broker/confirm-channel";
import { createLogger } from "../src/log";
import { AMQP_URL, tempQueue } from "./helpers/temp-queue";

const log = createLogger(process.env.LOG_LEVEL ?? "silent");
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
});

async function queueForTest(): Promise<string> {
  const { queue, remove } = await tempQueue("confirm");
  cleanups.push(remove);
  return queue;
}

async function openChannel(timeoutMs = 5000): Promise<ConfirmChannel> {
  const channel = new ConfirmChannel({
    urls: [AMQP_URL],
    name: "confirm-channel test",
    confirmTimeoutMs: timeoutMs,
    log,
  });
  await channel.open();
  cleanups.push(() => channel.close());
  return channel;
}

function publish(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  messageId: string,
  mandatory = true,
): Promise<SettleFailure | "ok"> {
  return new Promise((resolve) => {
    channel.publish(exchange, routingKey, Buffer.from("{}"), { messageId, persistent: true, mandatory }, (failure) =>
      resolve(failure ?? "ok"),
    );
  });
}

test("many publishes in flight settle once each: routed ones succeed, unroutable ones fail", async () => {
  const queue = await queueForTest();
  const channel = await openChannel();
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      i % 10 === 0 ? publish(channel, "", `${queue}.nowhere`, `m-${i}`) : publish(channel, "", queue, `m-${i}`),
    ),
  );
  expect(results.filter((result) => result === "unroutable")).toHaveLength(20);
  expect(results.filter((result) => result === "ok")).toHaveLength(180);
});

test("the same messageId published to two places: only the unroutable copy fails", async () => {
  const queue = await queueForTest();
  const channel = await openChannel();
  const [routed, unroutable] = await Promise.all([
    publish(channel, "", queue, "same"),
    publish(channel, "", `${queue}.nowhere`, "same"),
  ]);
  expect(routed).toBe("ok");
  expect(unroutable).toBe("unroutable");
});

test("a non-mandatory publish is confirmed wherever it goes; a mandatory one beside it fails unroutable", async () => {
  const queue = await queueForTest();
  const channel = await openChannel();
  const [optional, mandatory, routed] = await Promise.all([
    publish(channel, "", `${queue}.nowhere`, "n-1", false),
    publish(channel, "", `${queue}.nowhere`, "n-1"),
    publish(channel, "", queue, "n-2", false),
  ]);
  expect(optional).toBe("ok");
  expect(mandatory).toBe("unroutable");
  expect(routed).toBe("ok");
});

test("a channel error fails what was in flight, and the channel comes back", async () => {
  const queue = await queueForTest();
  const channel = await openChannel();
  expect(await publish(channel, "no-such-exchange-for-this-test", "x", "a")).not.toBe("ok");
  for (let i = 0; i < 50 && !channel.ready; i++) await Bun.sleep(20);
  expect(await publish(channel, "", queue, "b")).toBe("ok");
});

test("once closed, publishes fail at once as unavailable", async () => {
  const channel = await openChannel();
  await channel.close();
  expect(await publish(channel, "", "anything", "c")).toBe("unavailable");
});
