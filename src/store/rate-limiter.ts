import type Redis from "ioredis";
import { keys } from "./keys";
import { runScript } from "./run-script";
import { TAKE_RATE_TURN } from "./scripts";

/**
 * The turns of `pipeline.rateLimits`: one key per subscription in Redis holding when its next
 * handler start is due, shared by every replica, so that starts are spaced 1/perSecond apart.
 */
export class RateLimiter {
  constructor(private readonly redis: Redis) {}

  /** Books a start now (0), or says how many ms until the next start is due. */
  async takeTurn(subscription: string, perSecond: number): Promise<number> {
    const answer = await runScript(
      this.redis,
      "takeRateTurn",
      TAKE_RATE_TURN,
      [keys.rate(subscription)],
      [1000 / perSecond],
    );
    return Number(answer);
  }
}
