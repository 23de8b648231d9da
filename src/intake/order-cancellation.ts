import type { OrderResource, OrderStatus } from "../domain/order";
import type { Logger } from "../log";
import type { OrderEvents } from "../runtime/order-events";
import type { OrderStore } from "../store/order-store";
import type { RedisClient } from "../store/redis";

export type CancelOutcome =
  /** Cancelled now, or earlier; or, with `cancelRequested`, when the running handler settles. */
  { kind: "accepted"; order: OrderResource } | { kind: "conflict"; status: OrderStatus } | { kind: "unknown" };

/**
 * `POST /orders/{id}/cancel`: an order no handler runs for ends `cancelled` at once (its
 * message is dropped when it arrives) and announces `order.cancelled`; for one a handler is
 * running, the request is recorded on the order and published on the cancel channel, where
 * the worker running it aborts the handler's `ctx.signal`.
 */
export class OrderCancellation {
  constructor(
    private readonly options: {
      store: OrderStore;
      events: OrderEvents;
      /** The subscription whose messages are orders (its lease says whether a handler runs). */
      orderSubscription: string;
      /** Publishes on the cancel channel. */
      redis: RedisClient;
      channel: string;
      log: Logger;
    },
  ) {}

  async cancel(orderId: string, headers: Record<string, string>): Promise<CancelOutcome> {
    const { store, events, redis, channel, log } = this.options;
    const result = await store.cancel(orderId, this.options.orderSubscription, new Date().toISOString());
    switch (result.kind) {
      case "unknown":
        return { kind: "unknown" };
      case "conflict":
        return { kind: "conflict", status: result.status };
      case "cancelled":
        await events.announce(orderId, "cancelled", result.transition, headers);
        log.info({ orderId }, "order cancelled");
        break;
      case "requested":
        await redis.publish(channel, orderId);
        log.info({ orderId }, "order cancel requested: its running handler is told");
        break;
      case "already":
        break;
    }
    const order = await store.get(orderId);
    return order ? { kind: "accepted", order } : { kind: "unknown" };
  }
}
