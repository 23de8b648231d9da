import { ORDER_SUBSCRIPTION, type SubscriptionPlan } from "../broker/topology";
import type { Logger } from "../log";
import { type DeadLetter, DeadLetterStore } from "../store/dead-letter-store";
import type { MessageLedger } from "../store/message-ledger";
import { type DeadLetterReason, DL_HEADERS } from "./dead-letter-reason";
import { carriedHeaders } from "./message-headers";
import type { IncomingMessage } from "./message-processor";

/** RabbitMQ's own dead-letter reasons, as our admin API names them. */
const BROKER_REASONS: Record<string, DeadLetterReason> = {
  delivery_limit: "redelivery_limit",
  rejected: "invalid_content",
  expired: "max_attempts",
  maxlen: "max_attempts",
};

/**
 * Consumes the dead-letter queue into the dead-letter store. Messages arrive two ways: sent by
 * the runtime (with x-dead-letter-* headers) or by RabbitMQ itself, e.g. when a quorum queue's
 * delivery limit is hit; those orders are marked dead-lettered here, since no handler saw them.
 */
export interface DeadLetterRecorderOptions {
  store: DeadLetterStore;
  ledger: MessageLedger;
  /** Resolves a queue's name as the broker knows it (namespaced) to its subscription. */
  planForQueue: (fullyQualifiedQueue: string) => SubscriptionPlan | undefined;
  log: Logger;
}

export class DeadLetterRecorder {
  private readonly store: DeadLetterStore;
  private readonly ledger: MessageLedger;
  private readonly planForQueue: DeadLetterRecorderOptions["planForQueue"];
  private readonly log: Logger;

  constructor(options: DeadLetterRecorderOptions) {
    this.store = options.store;
    this.ledger = options.ledger;
    this.planForQueue = options.planForQueue;
    this.log = options.log;
  }

  async record(message: IncomingMessage): Promise<void> {
    const headers = message.properties.headers ?? {};
    const messageId = message.properties.messageId ?? "missing";
    const carried = carriedHeaders(headers);
    const orderId = carried["x-order-id"] ?? null;
    const ours = typeof headers[DL_HEADERS.reason] === "string";

    let entry: DeadLetter;
    if (ours) {
      const subscription = String(headers[DL_HEADERS.subscription]);
      entry = {
        id: DeadLetterStore.idFor(subscription, messageId),
        orderId,
        messageId,
        subscription,
        queue: String(headers[DL_HEADERS.queue]),
        reason: headers[DL_HEADERS.reason] as DeadLetterReason,
        attempts: Number(headers[DL_HEADERS.attempts] ?? 0),
        error: String(headers[DL_HEADERS.error] ?? ""),
        ...DeadLetterStore.storedPayload(message.content),
        contentType: message.properties.contentType ?? null,
        headers: carried,
        deadLetteredAt: new Date().toISOString(),
      };
    } else {
      const brokerReason = String(headers["x-first-death-reason"] ?? "unknown");
      const plan = this.planForQueue(String(headers["x-first-death-queue"] ?? ""));
      const subscription = plan?.name ?? "unknown";
      const reason = BROKER_REASONS[brokerReason] ?? "redelivery_limit";
      const error =
        brokerReason === "delivery_limit"
          ? "redelivered too often (the handler's process keeps dying)"
          : `dead-lettered by the broker (${brokerReason})`;
      entry = {
        id: DeadLetterStore.idFor(subscription, messageId),
        orderId,
        messageId,
        subscription,
        queue: plan?.queue ?? String(headers["x-first-death-queue"] ?? "unknown"),
        reason,
        attempts: deliveryCount(headers),
        error,
        ...DeadLetterStore.storedPayload(message.content),
        contentType: message.properties.contentType ?? null,
        headers: carried,
        deadLetteredAt: new Date().toISOString(),
      };
      if (plan) {
        const ref = {
          subscription,
          messageId,
          orderId: subscription === ORDER_SUBSCRIPTION && orderId ? orderId : undefined,
        };
        await this.ledger.finish(
          ref,
          "dead_lettered",
          entry.deadLetteredAt,
          {
            error: JSON.stringify({ message: error, permanent: false }),
            nextRetryAt: "",
          },
          reason,
        );
      }
    }
    await this.store.save(entry);
    this.log.info(
      { deadLetterId: entry.id, orderId, messageId, reason: entry.reason, subscription: entry.subscription },
      "dead letter recorded",
    );
  }
}

function deliveryCount(headers: Record<string, unknown>): number {
  const deaths = headers["x-death"];
  if (Array.isArray(deaths) && deaths[0] && typeof deaths[0] === "object") {
    const count = (deaths[0] as { count?: unknown }).count;
    if (typeof count === "number") return count;
  }
  const delivery = headers["x-delivery-count"];
  return typeof delivery === "number" ? delivery : 0;
}
