/**
 * A retryable failure that knows when a retry can help, such as a callback target's 429 or 503
 * with Retry-After: the next attempt waits in the first retry tier at least that long (the
 * ladder's largest delay when none is). Checked by name as well as by class, like
 * PermanentError.
 */
export class RetryAfterError extends Error {
  override name = "RetryAfterError";
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

/** The wait a failure asks for before its retry, if it asks for one. */
export function requestedRetryDelay(error: unknown): number | undefined {
  const delay = (error as { name?: unknown; retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  const named = (error as { name?: unknown } | undefined)?.name === "RetryAfterError";
  return named && typeof delay === "number" && Number.isFinite(delay) && delay >= 0 ? delay : undefined;
}

/** Retry-After as seconds or an HTTP date, in milliseconds from `now`; undefined when unusable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
