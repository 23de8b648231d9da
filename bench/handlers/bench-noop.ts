/**
 * The bench's order handler: does nothing, so the figures are the pipeline's own cost.
 * With BENCH_STATS_PORT set it also answers GET / with how many orders it handled: the bench
 * polls that every 10 ms to see when a run has been processed, outside the service's own HTTP
 * server, so that the polling neither queues behind the measured requests nor adds requests,
 * log lines and metrics of its own to the figures.
 */
let handled = 0;

const port = Number(process.env.BENCH_STATS_PORT);
if (port > 0) {
  Bun.serve({ port, hostname: "127.0.0.1", fetch: () => Response.json({ handled }) });
}

export default async function benchNoop(): Promise<void> {
  handled += 1;
}
