import diagnosticsChannel from "node:diagnostics_channel";

/**
 * Bun's TracingChannel lacks Node's aggregate `hasSubscribers` getter (oven-sh/bun#27805).
 * ioredis reads it before every command and, seeing `undefined`, traces every command even
 * with nobody listening: it builds a sanitized copy of the arguments and wraps the reply
 * promise in five channel publications; pino does the same for every log line. This adds the
 * getter as Node defines it (any of the five event channels has a subscriber), so tracing
 * costs nothing until something subscribes. Imported by the modules that create those clients.
 */
const EVENTS = ["start", "end", "asyncStart", "asyncEnd", "error"] as const;

type TracingChannelLike = Record<(typeof EVENTS)[number], { hasSubscribers: boolean }>;

const prototype = Object.getPrototypeOf(diagnosticsChannel.tracingChannel("order-pipeline:probe")) as object;
if (!("hasSubscribers" in prototype)) {
  Object.defineProperty(prototype, "hasSubscribers", {
    configurable: true,
    get(this: TracingChannelLike): boolean {
      return EVENTS.some((event) => this[event]?.hasSubscribers === true);
    },
  });
}
