import type { SubscriptionPlan } from "../broker/topology";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import type { ConcurrencySlots, HeldSlot } from "../store/concurrency-slots";
import type { RateLimiter } from "../store/rate-limiter";
import { retryWithBackoff, sleep } from "./backoff";

/** What the gate says of a message: run it (and call `leave` once its handler settled), or hold it back. */
export type GateAnswer = { kind: "run"; leave: () => void } | { kind: "hold" };

const NOTHING_TO_LEAVE: GateAnswer = { kind: "run", leave: () => {} };
/** How often a message waiting in this process for a slot asks again, at first and at most. */
const FIRST_POLL_MS = 10;
const LONGEST_POLL_MS = 100;

export interface FlowGateOptions {
  plan: SubscriptionPlan;
  slots: ConcurrencySlots;
  rates: RateLimiter;
  metrics: Metrics;
  shutdown: AbortSignal;
  log: Logger;
}

/**
 * A subscription's `pipeline.concurrency` and `pipeline.rateLimits`, checked before the claim so
 * that waiting never uses an attempt. A message whose key value is at its limit waits here while
 * fewer than half the prefetch wait so; beyond that it is held back (the processor parks it in
 * the wait queue), so that one busy key can never take every prefetch slot from the others.
 * Rate-limited starts book their turns from Redis, one call for the waiters of a moment.
 */
export class FlowGate {
  private waiting = 0;
  private readonly waitCap: number;
  /** Local waiters by key value, woken when a message with that value leaves here. */
  private readonly wakers = new Map<string, Set<() => void>>();
  /** Starts waiting for a rate-limit turn, and the booking under way for them. */
  private rateWaiters: ((go: boolean) => void)[] = [];
  private booking: Promise<void> | undefined;

  constructor(private readonly options: FlowGateOptions) {
    this.waitCap = Math.max(1, Math.floor((options.plan.prefetch ?? 10) / 2));
  }

  /** Undefined when shutdown came first (the message goes back to its queue). */
  async enter(content: unknown, owner: string): Promise<GateAnswer | undefined> {
    const { concurrency, rateLimit } = this.options.plan;
    if (!concurrency && !rateLimit) return NOTHING_TO_LEAVE;
    let slot: HeldSlot | undefined;
    const value = concurrency ? keyValue(content, concurrency.key) : undefined;
    if (value !== undefined) {
      const entered = await this.takeSlot(value, owner);
      if (entered === undefined || entered.kind === "hold") return entered;
      slot = entered.slot;
    }
    const leave = () => {
      slot?.release();
      if (value !== undefined) for (const wake of this.wakers.get(value) ?? []) wake();
    };
    if (rateLimit && !(await this.takeRateTurn(rateLimit.perSecond))) {
      leave();
      return undefined;
    }
    return { kind: "run", leave };
  }

  private async takeSlot(
    value: string,
    owner: string,
  ): Promise<{ kind: "run"; slot: HeldSlot } | { kind: "hold" } | undefined> {
    const { plan, slots, shutdown, metrics } = this.options;
    const limit = plan.concurrency!.limit;
    const acquire = () =>
      retryWithBackoff(
        () => slots.acquire({ subscription: plan.name, value, limit, owner }).then((slot) => ({ slot })),
        {
          signal: shutdown,
          onFailure: (error, step) =>
            step === 0 &&
            this.options.log.warn({ err: error }, "Redis unavailable; holding the message until it is back"),
        },
      );
    let taken = await acquire();
    if (taken?.slot) return { kind: "run", slot: taken.slot };
    if (!taken) return undefined;
    metrics.flowControlWaits.inc({ subscription: plan.name, limit: "concurrency" });
    if (this.waiting >= this.waitCap) return { kind: "hold" };
    this.waiting += 1;
    try {
      for (let pollMs = FIRST_POLL_MS; !shutdown.aborted; pollMs = Math.min(LONGEST_POLL_MS, pollMs * 2)) {
        await this.nextChance(value, pollMs);
        taken = await acquire();
        if (!taken) return undefined;
        if (taken.slot) return { kind: "run", slot: taken.slot };
      }
      return undefined;
    } finally {
      this.waiting -= 1;
    }
  }

  /** Resolves after `ms`, or earlier when a message with the same key value leaves this process. */
  private nextChance(value: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wakers = this.wakers.get(value) ?? new Set<() => void>();
      this.wakers.set(value, wakers);
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        if (wakers.size === 0) this.wakers.delete(value);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
  }

  /**
   * Waits for this start's turn across all replicas; false if shutdown came first. The waiters
   * of this process book their turns together, one Redis call for all who arrived meanwhile,
   * so that a rate the machine never reaches costs one call per batch, not a round trip each.
   */
  private takeRateTurn(perSecond: number): Promise<boolean> {
    return new Promise((resolve) => {
      this.rateWaiters.push(resolve);
      if (!this.booking) this.booking = this.bookTurns(perSecond).finally(() => (this.booking = undefined));
    });
  }

  private async bookTurns(perSecond: number): Promise<void> {
    const { plan, rates, shutdown, metrics } = this.options;
    const intervalMs = 1000 / perSecond;
    while (this.rateWaiters.length > 0) {
      const waiters = this.rateWaiters.splice(0);
      if (shutdown.aborted) {
        for (const resolve of waiters) resolve(false);
        continue;
      }
      const firstDueMs = await retryWithBackoff(() => rates.bookTurns(plan.name, perSecond, waiters.length), {
        signal: shutdown,
      });
      if (firstDueMs === undefined) {
        for (const resolve of waiters) resolve(false);
        continue;
      }
      const bookedAt = performance.now();
      for (const [index, resolve] of waiters.entries()) {
        const dueMs = firstDueMs + index * intervalMs;
        // Within a millisecond is now: no timer is finer, and a rate that high waits for none.
        if (dueMs < 1) {
          resolve(true);
          continue;
        }
        metrics.flowControlWaits.inc({ subscription: plan.name, limit: "rate" });
        void waitUntil(bookedAt + dueMs, shutdown).then(resolve);
      }
    }
  }
}

/** Resolves true at `at` (performance.now() time), false as soon as shutdown comes (checked every second). */
async function waitUntil(at: number, shutdown: AbortSignal): Promise<boolean> {
  for (let left = at - performance.now(); left > 0; left = at - performance.now()) {
    if (shutdown.aborted) return false;
    await sleep(Math.min(1000, Math.ceil(left)));
  }
  return !shutdown.aborted;
}

/** The message's value of the concurrency key, when it has one (a string, number or boolean). */
function keyValue(content: unknown, key: string): string | undefined {
  if (typeof content !== "object" || content === null) return undefined;
  const value = (content as Record<string, unknown>)[key];
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : undefined;
}
