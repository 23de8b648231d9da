import type { Publisher } from "../broker/broker";
import type { TerminalStatus } from "../domain/order";
import type { Logger } from "../log";
import type { OrderDocument, OrderStore } from "../store/order-store";
import type { Transition } from "../store/transition";

/** The publication of rascal.json that announces each terminal status, when declared. */
export const EVENT_PUBLICATIONS: Record<TerminalStatus, string> = {
  completed: "order_completed",
  dead_lettered: "order_dead_lettered",
  expired: "order_expired",
  cancelled: "order_cancelled",
};

/**
 * The publication of rascal.json that hands an ended order with a callbackUrl to the callback
 * subscription, when declared: orders without one never reach it. Same message as the event.
 */
export const CALLBACK_PUBLICATION = "order_callback";

export interface OrderEvent {
  orderId: string;
  status: TerminalStatus;
  customerId: string;
  total: number;
  currency: string;
  callbackUrl?: string;
  result?: unknown;
  error?: { message: string; permanent: boolean };
}

/**
 * Announces that an order reached its terminal status, after the status is recorded (so a
 * consumer reading the order sees it final). The messageId is derived from the order and its
 * history length: a repeat of the same announcement is deduplicated downstream, while a
 * replayed order that ends again is announced again.
 */
export class OrderEvents {
  private readonly publisher: Publisher;
  private readonly store: OrderStore;
  private readonly log: Logger;

  constructor(options: { publisher: Publisher; store: OrderStore; log: Logger }) {
    this.publisher = options.publisher;
    this.store = options.store;
    this.log = options.log;
  }

  async announce(
    orderId: string,
    status: TerminalStatus,
    transition: Transition,
    headers: Record<string, string>,
    extras: Pick<OrderEvent, "result" | "error"> = {},
  ): Promise<void> {
    if (!transition.order) return;
    const doc = JSON.parse(transition.order.doc) as OrderDocument;
    await this.publish({ orderId, status, ...summary(doc), ...extras }, transition.order.historyLength, headers);
  }

  /**
   * Re-sends the announcement of an order that is already terminal: a redelivered message may
   * mean the first announcement was cut short by a crash. Deduplicated downstream.
   */
  async reannounce(orderId: string, headers: Record<string, string>): Promise<void> {
    const order = await this.store.get(orderId);
    if (!order || !(order.status in EVENT_PUBLICATIONS)) return;
    const event: OrderEvent = { orderId, status: order.status as TerminalStatus, ...summary(order) };
    if (order.result !== undefined) event.result = order.result;
    if (order.error !== undefined) event.error = order.error;
    await this.publish(event, order.history.length, headers);
  }

  private async publish(event: OrderEvent, historyLength: number, headers: Record<string, string>): Promise<void> {
    const publications = [EVENT_PUBLICATIONS[event.status]];
    // Only orders that asked for a callback go to the callback subscription.
    if (event.callbackUrl) publications.push(CALLBACK_PUBLICATION);
    const messageId = `${event.orderId}:${event.status}:${historyLength}`;
    await Promise.all(
      publications
        .filter((publication) => this.publisher.declares(publication))
        .map((publication) =>
          this.publisher.publish(publication, event, { messageId, headers }).catch((error: unknown) => {
            this.log.warn({ err: error, orderId: event.orderId, publication }, "order event not published");
          }),
        ),
    );
  }
}

function summary(doc: OrderDocument): Pick<OrderEvent, "customerId" | "total" | "currency" | "callbackUrl"> {
  const picked: Pick<OrderEvent, "customerId" | "total" | "currency" | "callbackUrl"> = {
    customerId: doc.customerId,
    total: doc.total,
    currency: doc.currency,
  };
  if (doc.callbackUrl !== undefined) picked.callbackUrl = doc.callbackUrl;
  return picked;
}
