/**
 * Delay before the retry that follows `attempt` (1-based): the ladder's tier, the last one
 * repeating. With `atLeastMs` (a Retry-After), the first later tier that waits at least that
 * long, or the longest tier when none does.
 */
export function retryDelay(
  delays: readonly number[],
  attempt: number,
  atLeastMs?: number,
): { tier: number; delayMs: number } {
  let tier = Math.min(attempt, delays.length) - 1;
  if (atLeastMs !== undefined) {
    while (tier < delays.length - 1 && delays[tier]! < atLeastMs) tier += 1;
  }
  return { tier, delayMs: delays[tier]! };
}

/** Exponential backoff with full jitter, for waiting on Redis or the broker to come back. */
export function jitteredBackoff(step: number, baseMs = 100, capMs = 5000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** step);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits `ms`, or less once `signal` is aborted (a shutdown does not wait it out). */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

export interface RetryWithBackoffOptions {
  /** Aborted: stop retrying and resolve undefined (checked after each failure). */
  signal?: AbortSignal;
  /** Give up after this long and resolve undefined. */
  giveUpAfterMs?: number;
  /** Wait before the first attempt too (the caller just saw it fail). */
  waitFirst?: boolean;
  baseMs?: number;
  capMs?: number;
  /** Told of each failure before the wait; `step` counts from 0 (log the first one only, say). */
  onFailure?: (error: unknown, step: number) => void;
}

/**
 * Runs `attempt` until it resolves, waiting a jittered, growing backoff after each failure:
 * for waiting out a Redis or broker outage. Resolves the attempt's value, or undefined once
 * `signal` is aborted or `giveUpAfterMs` has passed.
 */
export async function retryWithBackoff<T>(
  attempt: () => Promise<T>,
  options: RetryWithBackoffOptions = {},
): Promise<T | undefined> {
  const { signal, giveUpAfterMs, baseMs, capMs } = options;
  const started = performance.now();
  for (let step = 0; ; step++) {
    if (step > 0 || options.waitFirst) await sleep(jitteredBackoff(options.waitFirst ? step : step - 1, baseMs, capMs));
    try {
      return await attempt();
    } catch (error) {
      if (signal?.aborted) return undefined;
      if (giveUpAfterMs !== undefined && performance.now() - started >= giveUpAfterMs) return undefined;
      options.onFailure?.(error, step);
    }
  }
}
