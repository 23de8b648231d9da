import { keys } from "./keys";
import type { RedisClient } from "./redis";
import { runScript } from "./run-script";
import { BOOK_RATE_TURNS } from "./scripts";

/**
 * The turns of `pipeline.rateLimits`: one key per subscription in Redis holding when its next
 * handler start is due, shared by every replica, so that starts are spaced 1/perSecond apart.
 */
export class RateLimiter {
  constructor(private readonly redis: RedisClient) {}

  /** Books `count` starts 1/perSecond apart; answers in how many ms the first is due (≤ 0: now). */
  async bookTurns(subscription: string, perSecond: number, count: number): Promise<number> {
    const answer = await runScript(
      this.redis,
      "bookRateTurns",
      BOOK_RATE_TURNS,
      [keys.rate(subscription)],
      [1000 / perSecond, count],
    );
    return Number(answer);
  }
}
