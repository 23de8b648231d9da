import { ownerAlive } from "./alive";
import { keysFor, RETENTION_MS, type RedisKeys } from "./keys";
import type { RedisClient } from "./redis";
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
  private readonly keys: RedisKeys;

  constructor(
    private readonly redis: RedisClient,
    /** Identifies this worker process in leases. */
    private readonly processId: string,
    readonly leaseMs: number,
  ) {
    this.keys = keysFor(redis);
  }

  /**
   * Keeps this process's alive key fresh while it consumes, so that when it dies its claims
   * can be taken over within ALIVE_TTL_MS instead of waiting out each lease.
   */
  startAliveSignal(): void {
    const refresh = () => this.redis.set(this.keys.alive(this.processId), "1", "PX", ALIVE_TTL_MS).catch(() => {});
    void refresh();
    this.aliveTimer = setInterval(refresh, ALIVE_REFRESH_MS);
  }

  /** Stops the alive signal; its claims become free for other workers at once. */
  async stopAliveSignal(): Promise<void> {
    clearInterval(this.aliveTimer);
    await this.redis.del(this.keys.alive(this.processId)).catch(() => {});
  }

  /**
   * A claim token for one delivery. Per delivery, not per process: two copies of a message
   * delivered to the same process must not both hold the claim.
   */
  newOwner(): string {
    this.deliveries += 1;
    return `${this.processId}:${this.deliveries}`;
  }

  /**
   * The message's keys and its order's, all in one hash slot. A message that drives no order
   * names its own id in the order's place: the scripts do not touch those keys then.
   */
  private keysOf(ref: MessageRef): string[] {
    const orderId = ref.orderId ?? ref.messageId;
    return [
      this.keys.message(ref.subscription, ref.messageId, orderId),
      this.leaseKey(ref),
      this.keys.order(orderId),
      this.keys.history(orderId),
    ];
  }

  /** The message's claim alone (heartbeats and releases touch nothing else). */
  private leaseKey(ref: MessageRef): string {
    return this.keys.lease(ref.subscription, ref.messageId, ref.orderId ?? ref.messageId);
  }

  async claim(ref: MessageRef, now: string): Promise<ClaimResult> {
    let result = await this.claimOnce(ref, now, "");
    // A claim held by a process that died (its alive key expired) is taken over at once
    // instead of waiting out the lease. Checked here rather than in the script: on Redis
    // Cluster the alive key is in another slot.
    if (result.kind === "busy" && !(await ownerAlive(this.redis, result.holder)))
      result = await this.claimOnce(ref, now, result.holder);
    return result;
  }

  /** One CLAIM; `deadHolder`: a holder known to have died, whose claim may be taken over. */
  private async claimOnce(ref: MessageRef, now: string, deadHolder: string): Promise<ClaimResult> {
    const [kind, detail, doc] = (await runScript(this.redis, "ledgerClaim", CLAIM, this.keysOf(ref), [
      ref.owner ?? "-",
      now,
      ref.orderId ? "1" : "0",
      this.leaseMs,
      historyEntry("processing", now),
      RETENTION_MS,
      deadHolder,
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
      [this.leaseKey(ref)],
      [ref.owner ?? "-", this.leaseMs],
    );
    return extended === 1;
  }

  async release(ref: MessageRef): Promise<void> {
    await runScript(this.redis, "ledgerRelease", RELEASE_LEASE, [this.leaseKey(ref)], [ref.owner ?? "-"]);
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
    const [message, , order, history] = this.keysOf(ref);
    const reopened = await runScript(
      this.redis,
      "ledgerReopen",
      REOPEN,
      [message!, order!, history!],
      [now, historyEntry("replayed", now), ref.orderId ? "1" : "0", RETENTION_MS],
    );
    return reopened === 1;
  }
}
