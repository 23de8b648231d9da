/** Why a message left its queue for the dead letters (DESIGN.md's admin API). */
export type DeadLetterReason = "max_attempts" | "permanent" | "invalid_content" | "redelivery_limit";

/** Headers the runtime sets on a message it dead-letters itself. */
export const DL_HEADERS = {
  reason: "x-dead-letter-reason",
  error: "x-dead-letter-error",
  attempts: "x-dead-letter-attempts",
  subscription: "x-dead-letter-subscription",
  queue: "x-dead-letter-queue",
} as const;
