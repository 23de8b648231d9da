/**
 * Open-loop load: sends orders at a fixed rate whatever the answers' latency (a closed loop
 * like wrk would slow down with the service and hide queueing). Records each 202's order id
 * and the moment it was submitted; writes them as JSON to BENCH_OUT.
 * Env: BENCH_URL, BENCH_RATE (orders/s), BENCH_SECONDS, BENCH_OUT.
 */
import { SAMPLE_ORDER_JSON } from "../lib/sample-order";

const url = `${process.env.BENCH_URL}/orders`;
const rate = Number(process.env.BENCH_RATE ?? 1000);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const out = process.env.BENCH_OUT!;
const TICK_MS = 2;

const ids: string[] = [];
const submitted: number[] = [];
const statuses: Record<string, number> = {};
let sent = 0;
let failed = 0;
/** The distinct reasons of failed requests (the first few), so that a failure is explained. */
const errors: string[] = [];
const pending = new Set<Promise<void>>();
const now = () => performance.timeOrigin + performance.now();

function send(): void {
  const at = now();
  const request = fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: SAMPLE_ORDER_JSON,
  })
    .then(async (response) => {
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      if (response.status === 202) {
        const order = (await response.json()) as { id: string };
        ids.push(order.id);
        submitted.push(at);
      } else {
        await response.arrayBuffer();
      }
    })
    .catch((error: unknown) => {
      failed += 1;
      const reason = String(error);
      if (errors.length < 5 && !errors.includes(reason)) errors.push(reason);
    })
    .finally(() => pending.delete(request));
  pending.add(request);
}

const started = performance.now();
const total = Math.round(rate * seconds);
while (sent < total) {
  // Catch up with the schedule: everything due by now goes out, so a slow tick does not lower the rate.
  const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
  while (sent < due) {
    send();
    sent += 1;
  }
  await Bun.sleep(TICK_MS);
}
const sendSeconds = (performance.now() - started) / 1000;
await Promise.all([...pending]);
await Bun.write(out, JSON.stringify({ sent, failed, errors, statuses, sendSeconds, ids, submitted }));
console.log(JSON.stringify({ sent, failed, statuses, sendSeconds, accepted: ids.length }));
