import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import type { ActivityStore } from "../store/activity";
import type { Workers } from "./workers";

/** How often a worker process reports its activity (see ActivityStore). */
const REPORT_INTERVAL_MS = 5000;

export interface ActivityReporterOptions {
  store: ActivityStore;
  workers: Pick<Workers, "unsettledBySubscription">;
  metrics: Metrics;
  processId: string;
  log: Logger;
}

/**
 * Reports this worker process's activity to Redis every few seconds: its unsettled deliveries
 * and what `messages_consumed_total` counted since the last report. Read from the metrics, so
 * the message path does nothing more for it.
 */
export class ActivityReporter {
  private timer: ReturnType<typeof setInterval> | undefined;
  private reported = new Map<string, number>();
  private failing = false;

  constructor(private readonly options: ActivityReporterOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.report(), REPORT_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.report();
    const { store, workers, processId } = this.options;
    await store.forget(processId, workers.unsettledBySubscription().keys()).catch(() => {});
  }

  private async report(): Promise<void> {
    const { store, workers, metrics, processId, log } = this.options;
    const counted = new Map<string, number>();
    const outcomes = new Map<string, Record<string, number>>();
    for (const { labels, value } of (await metrics.messagesConsumed.get()).values) {
      const subscription = String(labels.subscription);
      const outcome = String(labels.outcome);
      counted.set(`${subscription}|${outcome}`, value);
      const delta = value - (this.reported.get(`${subscription}|${outcome}`) ?? 0);
      if (delta <= 0) continue;
      if (!outcomes.has(subscription)) outcomes.set(subscription, {});
      outcomes.get(subscription)![outcome] = delta;
    }
    try {
      await store.write(processId, { unsettled: workers.unsettledBySubscription(), outcomes });
      this.reported = counted;
      if (this.failing) log.info("activity reports reach Redis again");
      this.failing = false;
    } catch (error) {
      // Counted again in the next report: nothing is lost while Redis is away.
      if (!this.failing) log.warn({ err: error }, "could not report activity to Redis");
      this.failing = true;
    }
  }
}
