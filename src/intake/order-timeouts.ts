import type { Publisher } from "../broker/broker";
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

/** Keeps a timeout message small even when many orders share it. */
const MAX_BATCH = 500;
/** How long accepted orders collect before their shared timeout message leaves. */
export const TIMEOUT_BATCH_WINDOW_MS = 50;

/**
 * Schedules the delayed message of accepted orders (it waits ORDER_TIMEOUT_MS in the timeout
 * queue, see topology.ts). The orders accepted within
 * TIMEOUT_BATCH_WINDOW_MS share one message: under load the broker then stores one delayed
 * message per window instead of one per order (a persistent message in a classic queue costs
 * the broker about as much CPU as the order itself, and the broker shares the machine). A window
 * with a single order publishes exactly the message it always did. The timeout is a safety net
 * for orders that never finish, not part of acceptance: the 202 does not wait for it, and an
 * accepted order reaches its terminal status through its own message whatever becomes of it.
 * On shutdown `flush` sends what is waiting.
 */
export class OrderTimeouts {
  private pending: PendingTimeout[] = [];
  private timer?: ReturnType<typeof setTimeout>;
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly publisher: Publisher,
    private readonly log: Logger,
  ) {}

  schedule(timeout: PendingTimeout): void {
    this.pending.push(timeout);
    if (this.pending.length >= MAX_BATCH) {
      this.send();
      return;
    }
    this.timer ??= setTimeout(() => this.send(), TIMEOUT_BATCH_WINDOW_MS);
  }

  /** Sends the waiting timeouts now and waits for every send under way (shutdown). */
  async flush(): Promise<void> {
    this.send();
    await Promise.allSettled([...this.sending]);
  }

  private send(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const only = batch.length === 1 ? batch[0]! : undefined;
    const sent = only
      ? this.publisher.publish(
          ORDER_TIMEOUT_PUBLICATION,
          { orderId: only.orderId },
          { messageId: `${only.orderId}:timeout`, headers: only.headers },
        )
      : this.publisher.publish(
          ORDER_TIMEOUT_PUBLICATION,
          { orders: batch.map(({ orderId, requestId }) => ({ orderId, requestId })) } satisfies OrderTimeoutBatch,
          { messageId: `timeouts:${batch[0]!.orderId}:${batch.length}` },
        );
    const settled = sent.catch((error: unknown) => {
      for (const { orderId, requestId } of batch)
        this.log.warn({ orderId, requestId, err: error }, "order timeout not scheduled");
    });
    this.sending.add(settled);
    void settled.finally(() => this.sending.delete(settled));
  }
}
