/** Why a message left its queue for the dead letters, as the admin API names it. */
export const DEAD_LETTER_REASONS = ["max_attempts", "permanent", "invalid_content", "redelivery_limit"] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/**
 * Whether the error is the message's own (it would fail the same way again) rather than the
 * attempts running out: what an order's `error.permanent` says.
 */
export function isPermanentReason(reason: DeadLetterReason): boolean {
  return reason === "permanent" || reason === "invalid_content";
}

/** Headers the runtime sets on a message it dead-letters itself. */
export const DL_HEADERS = {
  reason: "x-dead-letter-reason",
  error: "x-dead-letter-error",
  attempts: "x-dead-letter-attempts",
  subscription: "x-dead-letter-subscription",
  queue: "x-dead-letter-queue",
} as const;
