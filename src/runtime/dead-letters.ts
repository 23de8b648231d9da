import type { Publisher } from "../broker/broker";
import { ORDER_SUBSCRIPTION, ORDER_TIMEOUT_PUBLICATION, type SubscriptionPlan } from "../broker/topology";
import type { Logger } from "../log";
import type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterPage,
  DeadLetterQuery,
  DeadLetterStore,
} from "../store/dead-letter-store";
import { matches } from "../store/dead-letter-store";
import type { MessageLedger } from "../store/message-ledger";

/** A dead letter as the admin API and `dead-letters list --json` show it: the payload parsed when it is JSON. */
export interface DeadLetterView {
  id: string;
  orderId: string | null;
  messageId: string;
  subscription: string;
  queue: string;
  reason: DeadLetter["reason"];
  attempts: number;
  error: string;
  payload: unknown;
  deadLetteredAt: string;
}

export function deadLetterView(entry: DeadLetter): DeadLetterView {
  const { id, orderId, messageId, subscription, queue, reason, attempts, error, deadLetteredAt } = entry;
  return {
    id,
    orderId,
    messageId,
    subscription,
    queue,
    reason,
    attempts,
    error,
    payload: parsePayload(entry.payload),
    deadLetteredAt,
  };
}

/** Orders are JSON: show them as JSON; anything else (invalid content) as the text it was. */
function parsePayload(payload: string): unknown {
  try {
    return JSON.parse(payload);
  } catch {
    return payload;
  }
}

export class ReplayError extends Error {
  override name = "ReplayError";
}

export interface ReplayAllResult {
  replayed: number;
  /** The dead letters that stayed, and why. */
  failed: { id: string; detail: string }[];
}

/**
 * What operators do with dead letters (admin API and CLI share it). A replay re-opens the
 * message (fresh attempts, dedup cleared, the order back to `accepted` with a `replayed`
 * history entry), sends it to the queue it came from, and removes the dead letter only once
 * the broker confirmed the republish.
 */
export interface DeadLettersOptions {
  store: DeadLetterStore;
  ledger: MessageLedger;
  publisher: Publisher;
  /** The handler subscriptions a dead letter can go back to. */
  plans: readonly SubscriptionPlan[];
  log: Logger;
}

export class DeadLetters {
  private readonly store: DeadLetterStore;
  private readonly ledger: MessageLedger;
  private readonly publisher: Publisher;
  private readonly plans: ReadonlyMap<string, SubscriptionPlan>;
  private readonly log: Logger;

  constructor(options: DeadLettersOptions) {
    this.store = options.store;
    this.ledger = options.ledger;
    this.publisher = options.publisher;
    this.plans = new Map(options.plans.map((plan) => [plan.name, plan]));
    this.log = options.log;
  }

  list(): Promise<DeadLetter[]> {
    return this.store.list();
  }

  /** A page of the dead letters matching the query's filter, oldest first. */
  page(query: DeadLetterQuery): Promise<DeadLetterPage> {
    return this.store.page(query);
  }

  get(id: string): Promise<DeadLetter | undefined> {
    return this.store.get(id);
  }

  remove(id: string): Promise<boolean> {
    return this.store.remove(id);
  }

  /** Returns false when there is no such dead letter; throws ReplayError when the broker refused. */
  async replay(id: string): Promise<boolean> {
    const entry = await this.store.get(id);
    if (!entry) return false;
    const plan = this.plans.get(entry.subscription);
    if (!plan)
      throw new ReplayError(
        `dead letter ${id} belongs to subscription "${entry.subscription}", which rascal.json no longer declares`,
      );
    if (entry.payloadTruncated) {
      throw new ReplayError(
        `dead letter ${id} stores only the start of its message (it was too large) and cannot be replayed`,
      );
    }
    const ref = {
      subscription: entry.subscription,
      messageId: entry.messageId,
      orderId: entry.subscription === ORDER_SUBSCRIPTION && entry.orderId ? entry.orderId : undefined,
    };
    const now = new Date().toISOString();
    const reopened = await this.ledger.reopen(ref, now);
    try {
      await this.publisher.publish(plan.retry.requeuePublication, Buffer.from(entry.payload, "utf8"), {
        messageId: entry.messageId,
        headers: entry.headers,
        contentType: entry.contentType ?? undefined,
      });
    } catch (error) {
      // Not replayed after all: the message stays a dead letter and its order says so again.
      await this.ledger.finish(
        ref,
        "dead_lettered",
        new Date().toISOString(),
        {
          error: JSON.stringify({
            message: entry.error,
            permanent: entry.reason === "permanent" || entry.reason === "invalid_content",
          }),
        },
        "replay failed",
      );
      throw new ReplayError(`replay of ${id} was not confirmed by the broker: ${(error as Error).message}`);
    }
    await this.store.remove(id);
    this.log.info(
      { deadLetterId: id, orderId: entry.orderId, messageId: entry.messageId, queue: entry.queue },
      "dead letter replayed",
    );
    if (ref.orderId && reopened) await this.scheduleTimeout(ref.orderId, now, entry.headers);
    return true;
  }

  /**
   * The re-opened order gets ORDER_TIMEOUT_MS again, like a new one: its first timeout has
   * passed or no longer counts. Like the intake's, it is a safety net: the replay stands if it
   * cannot be scheduled.
   */
  private async scheduleTimeout(orderId: string, replayedAt: string, headers: Record<string, string>): Promise<void> {
    try {
      await this.publisher.publish(
        ORDER_TIMEOUT_PUBLICATION,
        { orderId, replayedAt },
        { messageId: `${orderId}:timeout:${replayedAt}`, headers },
      );
    } catch (error) {
      this.log.warn({ orderId, err: error }, "timeout of the replayed order not scheduled");
    }
  }

  /**
   * Replays every dead letter, or those matching `filter`. One that cannot go (its subscription
   * is gone, the broker refused it) stays a dead letter and is reported; the others still go.
   */
  async replayAll(filter: DeadLetterFilter = {}): Promise<ReplayAllResult> {
    const result: ReplayAllResult = { replayed: 0, failed: [] };
    for (const entry of await this.store.list(100_000)) {
      if (!matches(entry, filter)) continue;
      try {
        if (await this.replay(entry.id)) result.replayed += 1;
      } catch (error) {
        if (!(error instanceof ReplayError)) throw error;
        result.failed.push({ id: entry.id, detail: error.message });
      }
    }
    return result;
  }
}
