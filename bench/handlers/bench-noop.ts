/**
 * The bench's order handler: does nothing, so the figures are the pipeline's own cost.
 * With BENCH_STATS_PORT set it also answers GET / with how many orders it handled: the bench
 * polls that to see when a run has been processed, because polling /metrics as often costs
 * the service ~20 ms of CPU per scrape (prom-client's heap statistics are slow on Bun).
 */
let handled = 0;

const port = Number(process.env.BENCH_STATS_PORT);
if (port > 0) {
  Bun.serve({ port, hostname: "127.0.0.1", fetch: () => Response.json({ handled }) });
}

export default async function benchNoop(): Promise<void> {
  handled += 1;
}
