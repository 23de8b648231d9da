import { createHash } from "node:crypto";
import { ownerAlive } from "./alive";
import { keys } from "./keys";
import type { RedisClient } from "./redis";
import { runScript } from "./run-script";
import { ACQUIRE_SLOT, EXTEND_SLOT, RELEASE_SLOT } from "./scripts";

/** One slot of a concurrency key, held until `release`; its lease is kept fresh meanwhile. */
export interface HeldSlot {
  release(): void;
}

/**
 * The slots of `pipeline.concurrency`: per subscription and value of the message's key field,
 * a sorted set in Redis of who runs a message with that value now. A slot has a lease like a
 * claim: a worker that is killed while holding one frees it when its alive key or the lease
 * runs out. One timer extends every slot this process holds.
 */
export class ConcurrencySlots {
  /** Held slots: owner → slot key. */
  private readonly held = new Map<string, string>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly redis: RedisClient,
    readonly leaseMs: number,
    /** Called when a held slot could not be extended (Redis trouble, or it expired). */
    private readonly onLost: (error?: unknown) => void = () => {},
  ) {}

  /** Takes a slot for `owner` (a claim token: `<process>:<n>`); undefined when all `limit` are held. */
  async acquire(options: {
    subscription: string;
    value: string;
    limit: number;
    owner: string;
  }): Promise<HeldSlot | undefined> {
    const { owner } = options;
    const key = slotKey(options.subscription, options.value);
    const acquire = (dead: string[]) =>
      runScript(this.redis, "acquireSlot", ACQUIRE_SLOT, [key], [owner, options.limit, this.leaseMs, ...dead]);
    let taken = await acquire([]);
    if (Array.isArray(taken)) {
      // All held: free the slots of holders whose process died, and try once more.
      const holders = taken as string[];
      const alive = await Promise.all(holders.map((holder) => ownerAlive(this.redis, holder)));
      const dead = holders.filter((_, at) => !alive[at]);
      if (dead.length > 0) taken = await acquire(dead);
    }
    if (taken !== 1) return undefined;
    this.held.set(owner, key);
    this.heartbeat ??= setInterval(() => this.extendAll(), Math.max(100, Math.floor(this.leaseMs / 3)));
    return {
      release: () => {
        if (!this.held.delete(owner)) return;
        if (this.held.size === 0) {
          clearInterval(this.heartbeat);
          this.heartbeat = undefined;
        }
        // A release that does not reach Redis costs the key at most the rest of the lease.
        runScript(this.redis, "releaseSlot", RELEASE_SLOT, [key], [owner]).catch(() => {});
      },
    };
  }

  private extendAll(): void {
    for (const [owner, key] of this.held) {
      runScript(this.redis, "extendSlot", EXTEND_SLOT, [key], [owner, this.leaseMs]).then(
        (kept) => kept === 1 || !this.held.has(owner) || this.onLost(),
        (error: unknown) => this.onLost(error),
      );
    }
  }
}

/** The key of a value's slots: it carries a hash of the value, never the client's string itself. */
export function slotKey(subscription: string, value: string): string {
  return keys.slots(subscription, createHash("sha256").update(value).digest("base64url").slice(0, 22));
}
