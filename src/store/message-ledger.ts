import type Redis from "ioredis";
import { alivePrefix, keys, RETENTION_MS } from "./keys";
import { runScript } from "./run-script";
import { CLAIM, EXTEND_LEASE, FINISH, RELEASE_LEASE, REOPEN } from "./scripts";
import { historyEntry, type Transition, toTransition } from "./transition";

export type ClaimResult =
  | { kind: "run"; attempt: number }
  /** Its cancel was requested while an earlier run's process died: the order ended cancelled now. */
  | { kind: "cancelled"; transition: Transition }
  | { kind: "duplicate"; detail: string }
  | { kind: "busy"; holder: string }
  | { kind: "dropped"; detail: string }
  /** The order has no record at all (Redis lost it): rebuild it from the message, then claim again. */
  | { kind: "missing" };

/** A worker process counts as dead this long after its last alive signal. */
const ALIVE_TTL_MS = 5000;
/** How long a claim on a message lives without a heartbeat (the handler's process died). */
export const DEFAULT_LEASE_MS = 30_000;
const ALIVE_REFRESH_MS = 1000;

export type FinishOutcome = "completed" | "retrying" | "dead_lettered" | "cancelled";

export interface MessageRef {
  subscription: string;
  messageId: string;
  /** This delivery's claim token (see `MessageLedger.newOwner`); unset for bookkeeping calls. */
  owner?: string;
  /** The order whose status this message drives, when the subscription tracks orders. */
  orderId?: string;
}

/**
 * Per-subscription message bookkeeping in Redis: dedup markers, attempt counters, the lease
 * that keeps a message from running twice at once, and the order status that goes with them.
 */
export class MessageLedger {
  private deliveries = 0;
  private aliveTimer: ReturnType<typeof setInterval> | undefined;
  /** Leases taken by this process and not yet given back, by owner token. */
  private readonly held = new Map<string, MessageRef>();

  constructor(
    private readonly redis: Redis,
    /** Identifies this worker process in leases. */
    private readonly processId: string,
    readonly leaseMs: number,
  ) {}

  /** Full name (prefix included) of the keys that say a worker process is alive. */
  private get alivePrefix(): string {
    return alivePrefix(this.redis.options.keyPrefix);
  }

  /**
   * Keeps this process's alive key fresh while it consumes, so that when it dies its claims
   * can be taken over within ALIVE_TTL_MS instead of waiting out each lease.
   */
  startAliveSignal(): void {
    const refresh = () => this.redis.set(keys.alive(this.processId), "1", "PX", ALIVE_TTL_MS).catch(() => {});
    void refresh();
    this.aliveTimer = setInterval(refresh, ALIVE_REFRESH_MS);
  }

  /** Stops the alive signal; its claims become free for other workers at once. */
  async stopAliveSignal(): Promise<void> {
    clearInterval(this.aliveTimer);
    await this.redis.del(keys.alive(this.processId)).catch(() => {});
  }

  /**
   * A claim token for one delivery. Per delivery, not per process: two copies of a message
   * delivered to the same process must not both hold the claim.
   */
  newOwner(): string {
    this.deliveries += 1;
    return `${this.processId}:${this.deliveries}`;
  }

  private keysOf(ref: MessageRef): string[] {
    const orderId = ref.orderId ?? "-";
    return [
      keys.message(ref.subscription, ref.messageId),
      keys.lease(ref.subscription, ref.messageId),
      keys.order(orderId),
      keys.history(orderId),
    ];
  }

  async claim(ref: MessageRef, now: string): Promise<ClaimResult> {
    const [kind, detail, doc] = (await runScript(this.redis, "ledgerClaim", CLAIM, this.keysOf(ref), [
      ref.owner ?? "-",
      now,
      ref.orderId ? "1" : "0",
      this.leaseMs,
      historyEntry("processing", now),
      RETENTION_MS,
      this.alivePrefix,
      historyEntry("cancelled", now, "cancel requested while its handler ran"),
    ])) as [string, string, string?];
    switch (kind) {
      case "run":
        this.held.set(ref.owner ?? "-", ref);
        return { kind, attempt: Number(detail) };
      case "duplicate":
      case "dropped":
        return { kind, detail };
      case "busy":
        return { kind, holder: detail };
      case "cancelled":
        return { kind, transition: { transitioned: true, order: { historyLength: Number(detail), doc: doc! } } };
      case "missing":
        return { kind };
      default:
        throw new Error(`unexpected claim answer ${kind}`);
    }
  }

  /** Heartbeat: keeps the lease while the handler runs; false when it was lost. */
  async extend(ref: MessageRef): Promise<boolean> {
    const extended = await runScript(
      this.redis,
      "ledgerExtend",
      EXTEND_LEASE,
      [keys.lease(ref.subscription, ref.messageId)],
      [ref.owner ?? "-", this.leaseMs],
    );
    return extended === 1;
  }

  async release(ref: MessageRef): Promise<void> {
    await runScript(
      this.redis,
      "ledgerRelease",
      RELEASE_LEASE,
      [keys.lease(ref.subscription, ref.messageId)],
      [ref.owner ?? "-"],
    );
    this.held.delete(ref.owner ?? "-");
  }

  /**
   * Gives back every lease this process still holds. For shutdown, as the last thing before
   * the Redis connection closes: the handlers still running then will not report back, and
   * without this their messages, already back in the queue, would wait out the whole lease.
   */
  async releaseHeld(): Promise<number> {
    const refs = [...this.held.values()];
    await Promise.all(refs.map((ref) => this.release(ref)));
    return refs.length;
  }

  /**
   * Records the end of one handler start. `fields` go to the order hash; an empty string
   * removes the field.
   */
  async finish(
    ref: MessageRef,
    outcome: FinishOutcome,
    now: string,
    fields: Record<string, string>,
    detail?: string,
  ): Promise<Transition> {
    const args: (string | number)[] = [
      ref.owner ?? "-",
      now,
      ref.orderId ? "1" : "0",
      outcome,
      historyEntry(outcome, now, detail),
      RETENTION_MS,
    ];
    for (const [field, value] of Object.entries(fields)) args.push(field, value);
    const transition = toTransition(await runScript(this.redis, "ledgerFinish", FINISH, this.keysOf(ref), args));
    this.held.delete(ref.owner ?? "-");
    return transition;
  }

  /** Clears dedup and attempts so that a replayed message runs again; re-opens its order. */
  async reopen(ref: MessageRef, now: string): Promise<boolean> {
    const orderId = ref.orderId ?? "-";
    const reopened = await runScript(
      this.redis,
      "ledgerReopen",
      REOPEN,
      [keys.message(ref.subscription, ref.messageId), keys.order(orderId), keys.history(orderId)],
      [now, historyEntry("replayed", now), ref.orderId ? "1" : "0", RETENTION_MS],
    );
    return reopened === 1;
  }
}
