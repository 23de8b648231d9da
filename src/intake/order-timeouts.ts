import type { Publisher } from "../broker/publisher";
import { ORDER_TIMEOUT_PUBLICATION } from "../broker/topology";
import type { Logger } from "../log";

/** One order waiting for its timeout message. */
export interface PendingTimeout {
  orderId: string;
  requestId: string;
  headers: Record<string, string>;
}

/** The body of a timeout message that covers several orders (see `expireOrder`). */
export interface OrderTimeoutBatch {
  orders: { orderId: string; requestId: string }[];
}

/** Keeps a timeout message small even when a turn of the event loop accepted many orders. */
const MAX_BATCH = 500;

/**
 * Schedules the ORDER_TIMEOUT_MS delayed message of accepted orders. The orders accepted in
 * one turn of the event loop share one message: under load the broker then stores one delayed
 * message per turn instead of one per order (the order and its timeout were two persistent
 * messages per order, and the broker shares the machine's CPU). A turn with a single order
 * publishes exactly the message it always did. The timeout is a safety net, not part of
 * acceptance: the 202 does not wait for it, as before, and it leaves within the same turn.
 */
export class OrderTimeouts {
  private pending: PendingTimeout[] = [];
  private scheduled = false;

  constructor(
    private readonly publisher: Publisher,
    private readonly log: Logger,
    private readonly orderTimeoutMs: number,
  ) {}

  schedule(timeout: PendingTimeout): void {
    this.pending.push(timeout);
    if (this.pending.length >= MAX_BATCH) return this.flush();
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const only = batch.length === 1 ? batch[0]! : undefined;
    const sent = only
      ? this.publisher.publish(ORDER_TIMEOUT_PUBLICATION, { orderId: only.orderId }, { messageId: `${only.orderId}:timeout`, headers: only.headers, expirationMs: this.orderTimeoutMs })
      : this.publisher.publish(
          ORDER_TIMEOUT_PUBLICATION,
          { orders: batch.map(({ orderId, requestId }) => ({ orderId, requestId })) } satisfies OrderTimeoutBatch,
          { messageId: `timeouts:${batch[0]!.orderId}:${batch.length}`, expirationMs: this.orderTimeoutMs },
        );
    sent.catch((error: unknown) => {
      for (const { orderId, requestId } of batch) this.log.warn({ orderId, requestId, err: error }, "order timeout not scheduled");
    });
  }
}
