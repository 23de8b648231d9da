import type { Logger } from "../log";
import type { OrderStore } from "../store/order-store";
import { carriedHeaders } from "./message-headers";
import type { IncomingMessage } from "./message-processor";
import type { OrderEvents } from "./order-events";

const ORDER_ID = /^[0-9a-f-]{36}$/;

/**
 * Consumes the order-timeout messages once their delay has passed: an order not finished by
 * then ends `expired`, and its order message is dropped if a worker receives it later.
 * A message carries one order (`{orderId}`, request id in its headers) or the orders the
 * intake accepted in one turn of its event loop (`{orders: [{orderId, requestId}]}`); a
 * replayed order's (`{orderId, replayedAt}`) counts only while no later replay re-opened it.
 */
export async function expireOrder(
  message: IncomingMessage,
  content: unknown,
  store: OrderStore,
  events: OrderEvents,
  log: Logger,
): Promise<void> {
  const body = content as { orderId?: unknown; orders?: unknown; replayedAt?: unknown } | null;
  const orders = Array.isArray(body?.orders)
    ? (body.orders as { orderId?: unknown; requestId?: unknown }[])
    : [{ orderId: body?.orderId, requestId: message.properties.headers?.["x-request-id"] }];
  const replayedAt = typeof body?.replayedAt === "string" ? body.replayedAt : undefined;
  const headers = carriedHeaders(message.properties.headers);
  const now = new Date().toISOString();
  await Promise.all(
    orders.map(async ({ orderId, requestId }) => {
      if (typeof orderId !== "string" || !ORDER_ID.test(orderId)) {
        log.warn({ messageId: message.properties.messageId }, "order timeout without a valid order id; ignored");
        return;
      }
      const transition = await store.expire(orderId, now, "not finished within ORDER_TIMEOUT_MS", replayedAt);
      if (!transition.transitioned) return;
      log.warn({ orderId, requestId }, "order expired");
      const orderHeaders =
        typeof requestId === "string"
          ? { ...headers, "x-request-id": requestId, "x-order-id": orderId }
          : { ...headers, "x-order-id": orderId };
      await events.announce(orderId, "expired", transition, orderHeaders);
    }),
  );
}
