import type { HandlerContext } from "../src/handler";

interface OrderCompletedEvent {
  orderId: string;
  customerId: string;
  total: number;
  currency: string;
}

/** Tells the customer their order went through (here: a log line standing in for an e-mail). */
export default async function notifyCustomer(message: unknown, ctx: HandlerContext) {
  const event = message as OrderCompletedEvent;
  ctx.log.info(
    { customerId: event.customerId, orderId: event.orderId, total: event.total, currency: event.currency },
    "customer notified: order completed",
  );
  return { notified: event.customerId };
}
