/** Delay before the retry that follows `attempt` (1-based): the ladder's tier, the last one repeating. */
export function retryDelay(delays: readonly number[], attempt: number): { tier: number; delayMs: number } {
  const tier = Math.min(attempt, delays.length) - 1;
  return { tier, delayMs: delays[tier]! };
}

/** Exponential backoff with full jitter, for waiting on Redis or the broker to come back. */
export function jitteredBackoff(step: number, baseMs = 100, capMs = 5000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** step);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
