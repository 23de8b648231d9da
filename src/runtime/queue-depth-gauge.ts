import type { Broker } from "../broker/broker";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";

export interface QueueDepthGauge {
  /** Reads every queue once now (also what the timer does). */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

export interface QueueDepthGaugeOptions {
  broker: Pick<Broker, "readQueueDepths">;
  gauge: Metrics["queueMessages"];
  intervalMs: number;
  log: Logger;
}

/** The `queue_messages{queue}` gauge, refreshed right away and then every `intervalMs`. */
export function startQueueDepthGauge(options: QueueDepthGaugeOptions): QueueDepthGauge {
  const { broker, gauge, log } = options;
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let warned = false;

  const refresh = () =>
    (running ??= (async () => {
      let failure: { queue: string; error: string } | undefined;
      for (const reading of await broker.readQueueDepths()) {
        if ("messages" in reading) {
          gauge.set({ queue: reading.queue.label }, reading.messages);
          continue;
        }
        // No stale number: an absent series is what alerting on a missing queue looks for.
        gauge.remove({ queue: reading.queue.label });
        failure ??= { queue: reading.queue.label, error: reading.error };
      }
      // Once per outage, not once per queue and interval.
      if (failure && !warned) log.warn({ err: failure.error, queue: failure.queue }, "queue depth not readable");
      warned = failure !== undefined;
    })().finally(() => {
      running = undefined;
    }));

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => refresh().finally(schedule), options.intervalMs);
    // The gauge must never keep a finished process alive.
    timer.unref();
  };
  refresh().finally(schedule);

  return {
    refresh,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => {});
    },
  };
}
