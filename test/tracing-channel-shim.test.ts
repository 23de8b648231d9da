import { expect, test } from "bun:test";
import diagnosticsChannel from "node:diagnostics_channel";
import "../src/store/redis";
import "../src/log";

test("a tracing channel reports whether anyone listens, so ioredis and pino skip tracing what nobody traces", () => {
  const channel = diagnosticsChannel.tracingChannel(`test:${crypto.randomUUID()}`) as ReturnType<
    typeof diagnosticsChannel.tracingChannel
  > & { hasSubscribers: unknown };
  // ioredis traces unless this is exactly false.
  expect(channel.hasSubscribers).toBe(false);
  const handlers = { asyncEnd: () => {} };
  channel.subscribe(handlers as never);
  expect(channel.hasSubscribers).toBe(true);
  channel.unsubscribe(handlers as never);
  expect(channel.hasSubscribers).toBe(false);
});
