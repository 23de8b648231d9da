import type { Logger } from "../log";
import type { OrderStore } from "../store/order-store";
import { carriedHeaders } from "./message-headers";
import type { IncomingMessage } from "./message-processor";
import type { OrderEvents } from "./order-events";

/**
 * Consumes the order-timeout messages once their delay has passed: an order not finished by
 * then ends `expired`, and its order message is dropped if a worker receives it later.
 */
export async function expireOrder(
  message: IncomingMessage,
  content: unknown,
  store: OrderStore,
  events: OrderEvents,
  log: Logger,
): Promise<void> {
  const orderId = (content as { orderId?: unknown } | null)?.orderId;
  if (typeof orderId !== "string" || !/^[0-9a-f-]{36}$/.test(orderId)) {
    log.warn({ messageId: message.properties.messageId }, "order timeout without a valid order id; ignored");
    return;
  }
  const transition = await store.expire(orderId, new Date().toISOString(), "not finished within ORDER_TIMEOUT_MS");
  if (!transition.transitioned) return;
  const headers = carriedHeaders(message.properties.headers);
  log.warn({ orderId, requestId: headers["x-request-id"] }, "order expired");
  await events.announce(orderId, "expired", transition, headers);
}
