/**
 * How many messages the bench's handlers ran, per subscription. With BENCH_STATS_PORT set, GET /
 * on that port answers `{ handled, bySubscription }`: the bench polls it every 10 ms to see when
 * a run has been processed, outside the service's own HTTP server, so that the polling neither
 * queues behind the measured requests nor adds requests, log lines and metrics of its own to
 * the figures.
 */
const bySubscription: Record<string, number> = {};
let handled = 0;

const port = Number(process.env.BENCH_STATS_PORT);
if (port > 0) {
  Bun.serve({ port, hostname: "127.0.0.1", fetch: () => Response.json({ handled, bySubscription }) });
}

export function countHandled(subscription: string): void {
  handled += 1;
  bySubscription[subscription] = (bySubscription[subscription] ?? 0) + 1;
}
