import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * Default metrics left out: on Bun, v8.getHeapSpaceStatistics() walks the whole heap (~30 ms
 * for a small heap, more under load), so every scrape stalled the event loop and showed up in
 * the p99 of requests and handlers. Heap totals stay (nodejs_heap_size_*, from memoryUsage).
 */
const COSTLY_DEFAULT_METRICS = [
  "nodejs_heap_space_size_total_bytes",
  "nodejs_heap_space_size_used_bytes",
  "nodejs_heap_space_size_available_bytes",
];

/**
 * The metric names (docs/operations.md); one registry per service instance so tests stay apart.
 * `isReady` answers what /readyz would without its round trips (connected, not shutting down).
 */
export function createMetrics(options: { isReady?: () => boolean } = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of COSTLY_DEFAULT_METRICS) registry.removeSingleMetric(name);
  return {
    registry,
    httpRequests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests by method, matched route and status",
      labelNames: ["method", "route", "status"] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "http_request_duration_seconds",
      help: "HTTP request duration",
      labelNames: ["method", "route"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    httpResponsesUnsent: new Counter({
      name: "http_responses_unsent_total",
      help:
        "Answers the client never received: the connection closed before they were written " +
        "(the client left, or it pipelined another request behind this one)",
      labelNames: ["method", "route", "status"] as const,
      registers: [registry],
    }),
    ordersAccepted: new Counter({
      name: "orders_accepted_total",
      help: "Orders answered 202 (confirmed and routed by the broker)",
      registers: [registry],
    }),
    messagesPublished: new Counter({
      name: "messages_published_total",
      help: "Messages confirmed by the broker, by publication",
      labelNames: ["publication"] as const,
      registers: [registry],
    }),
    messagesConsumed: new Counter({
      name: "messages_consumed_total",
      help: "Messages consumed, by subscription and outcome",
      labelNames: ["subscription", "outcome"] as const,
      registers: [registry],
    }),
    handlerDuration: new Histogram({
      name: "handler_duration_seconds",
      help: "Handler run time",
      labelNames: ["subscription"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    handlerTimeouts: new Counter({
      name: "handler_timeouts_total",
      help: "Handler attempts that ran past their subscription's pipeline.timeouts entry",
      labelNames: ["subscription"] as const,
      registers: [registry],
    }),
    flowControlWaits: new Counter({
      name: "flow_control_waits_total",
      help: "Messages that waited before their handler started, by subscription and the limit they waited for",
      labelNames: ["subscription", "limit"] as const,
      registers: [registry],
    }),
    ready: new Gauge({
      name: "service_ready",
      help: "1 while the broker and Redis connections are usable and the process is not shutting down, else 0",
      registers: [registry],
      collect() {
        this.set(options.isReady?.() === false ? 0 : 1);
      },
    }),
    queueMessages: new Gauge({
      name: "queue_messages",
      help: "Messages ready in each queue, as last read from the broker",
      labelNames: ["queue"] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

export const CONSUME_OUTCOMES = ["completed", "retried", "dead_lettered", "duplicate", "dropped"] as const;
export type ConsumeOutcome = (typeof CONSUME_OUTCOMES)[number];
