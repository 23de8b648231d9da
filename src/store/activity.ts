import { keysFor, type RedisKeys } from "./keys";
import type { RedisClient } from "./redis";

/** The width of one bucket of outcome counts, and how many of them the console's chart shows. */
export const BUCKET_MS = 10_000;
export const BUCKETS_SHOWN = 90;
/** A process's unsettled count stops counting this long after its last report (it died). */
const UNSETTLED_VALID_MS = 15_000;

export interface ActivityReport {
  /** Deliveries held unsettled, by subscription. */
  unsettled: ReadonlyMap<string, number>;
  /** Messages consumed since the last report, by subscription and outcome. */
  outcomes: ReadonlyMap<string, Record<string, number>>;
}

/** Per subscription, each outcome's counts in the buckets shown, oldest first. */
export interface OutcomeSeries {
  bucketMs: number;
  /** Start of each bucket, ms. */
  starts: number[];
  bySubscription: Record<string, Record<string, number[]>>;
}

/**
 * What every worker process reports to Redis every few seconds, for the admin API and the
 * console to show across all replicas: the deliveries it holds (the queues' unacknowledged
 * messages — the broker's AMQP interface does not count them), and its consumed messages by
 * outcome, summed into 10 s buckets kept for 15 minutes.
 */
export class ActivityStore {
  private readonly keys: RedisKeys;

  constructor(private readonly redis: RedisClient) {
    this.keys = keysFor(redis);
  }

  async write(processId: string, report: ActivityReport, now = Date.now()): Promise<void> {
    const multi = this.redis.multi();
    for (const [subscription, count] of report.unsettled)
      multi.hset(this.keys.unsettled(), `${processId}|${subscription}`, `${count}|${now + UNSETTLED_VALID_MS}`);
    const bucket = this.keys.outcomes(now - (now % BUCKET_MS));
    let counted = false;
    for (const [subscription, outcomes] of report.outcomes) {
      for (const [outcome, count] of Object.entries(outcomes)) {
        if (count === 0) continue;
        multi.hincrby(bucket, `${subscription}|${outcome}`, count);
        counted = true;
      }
    }
    if (counted) multi.pexpire(bucket, BUCKET_MS * (BUCKETS_SHOWN + 1));
    await multi.exec();
  }

  /** A stopping process's deliveries are settled or back in their queues: it no longer counts. */
  async forget(processId: string, subscriptions: Iterable<string>): Promise<void> {
    const fields = [...subscriptions].map((subscription) => `${processId}|${subscription}`);
    if (fields.length > 0) await this.redis.hdel(this.keys.unsettled(), ...fields);
  }

  /** Unsettled deliveries by subscription, summed over the live processes; reports of dead ones are dropped. */
  async unsettled(now = Date.now()): Promise<Map<string, number>> {
    const entries = await this.redis.hgetall(this.keys.unsettled());
    const sums = new Map<string, number>();
    const stale: string[] = [];
    for (const [field, value] of Object.entries(entries)) {
      const [count, validUntil] = value.split("|").map(Number) as [number, number];
      if (!(validUntil > now)) {
        stale.push(field);
        continue;
      }
      const subscription = field.slice(field.indexOf("|") + 1);
      sums.set(subscription, (sums.get(subscription) ?? 0) + count);
    }
    if (stale.length > 0) await this.redis.hdel(this.keys.unsettled(), ...stale);
    return sums;
  }

  /** The last 15 minutes of outcome counts, per subscription and outcome, in 10 s buckets. */
  async outcomes(now = Date.now()): Promise<OutcomeSeries> {
    const last = now - (now % BUCKET_MS);
    const starts = Array.from({ length: BUCKETS_SHOWN }, (_, index) => last - (BUCKETS_SHOWN - 1 - index) * BUCKET_MS);
    const pipeline = this.redis.pipeline();
    for (const start of starts) pipeline.hgetall(this.keys.outcomes(start));
    const replies = (await pipeline.exec()) ?? [];
    const bySubscription: Record<string, Record<string, number[]>> = {};
    replies.forEach(([error, counts], index) => {
      if (error) throw error;
      for (const [field, value] of Object.entries(counts as Record<string, string>)) {
        const [subscription, outcome] = field.split("|") as [string, string];
        const series = (bySubscription[subscription] ??= {});
        (series[outcome] ??= new Array<number>(BUCKETS_SHOWN).fill(0))[index] = Number(value);
      }
    });
    return { bucketMs: BUCKET_MS, starts, bySubscription };
  }
}
