import type { Logger } from "../log";
import { retryWithBackoff, sleep } from "../runtime/backoff";

/** How long a write that Redis refused is retried in the background. */
const GIVE_UP_AFTER_MS = 10 * 60 * 1000;

/**
 * Redis writes the intake could not make in the request, retried in the background until
 * Redis answers: removing the record of an order that was answered 503 (so a 503'd order does
 * not exist and its Idempotency-Key is free again), or confirming an idempotency key after a
 * 202 (so repeats replay instead of answering 409).
 */
export class DeferredWrites {
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly log: Logger) {}

  schedule(what: string, context: Record<string, unknown>, write: () => Promise<unknown>): void {
    let tries = 0;
    const attempt = (async () => {
      const done = await retryWithBackoff(
        async () => {
          tries += 1;
          await write();
          return true;
        },
        // Redis refused it a moment ago: wait before the first try too.
        { waitFirst: true, baseMs: 200, capMs: 5000, giveUpAfterMs: GIVE_UP_AFTER_MS },
      );
      if (done) this.log.info({ ...context, tries }, `${what}: done after Redis came back`);
      else this.log.error(context, `${what}: gave up, Redis did not come back in time`);
    })();
    const tracked = attempt.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  /** Writes still waiting for Redis (shutdown waits for them a little). */
  get size(): number {
    return this.pending.size;
  }

  async settle(timeoutMs: number): Promise<void> {
    await Promise.race([Promise.allSettled([...this.pending]), sleep(timeoutMs)]);
  }
}
