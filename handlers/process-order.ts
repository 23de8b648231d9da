import { createHash } from "node:crypto";
import type { HandlerContext, OrderMessage } from "../src/handler";
import { PermanentError } from "../src/handler";
import { keysFor } from "../src/store/keys";

/** Above this total the simulated payment provider declines. */
const PAYMENT_LIMIT = 1_000_000;

/**
 * Reserves every item at once, once per order: a re-run after a crash finds the reservation and
 * does not take stock twice. A SKU without a `stock:<sku>` key is not stock-managed.
 * Returns the position (1-based) of the first SKU that is short, or 0 when all are reserved.
 */
const RESERVE_STOCK = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #KEYS do
  local available = redis.call('GET', KEYS[i])
  if available and tonumber(available) < tonumber(ARGV[i - 1]) then return i - 1 end
end
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECRBY', KEYS[i], ARGV[i - 1]) end
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[#ARGV])
return 0
`;

const RESERVATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Checks and reserves stock and takes the payment. The returned value becomes the order's
 * `result`; the runtime then announces `order.completed` (with that result) on the events
 * exchange, once the completion is recorded.
 */
export default async function processOrder(message: unknown, ctx: HandlerContext) {
  const order = message as OrderMessage;
  const quantities = new Map<string, number>();
  for (const item of order.items) quantities.set(item.sku, (quantities.get(item.sku) ?? 0) + item.quantity);

  const skus = [...quantities.keys()];
  const keys = keysFor(ctx.redis);
  const shortAt = (await ctx.redis.eval(
    RESERVE_STOCK,
    skus.length + 1,
    keys.reservation(order.orderId),
    ...skus.map((sku) => keys.stock(sku)),
    ...skus.map((sku) => quantities.get(sku)!),
    RESERVATION_TTL_MS,
  )) as number;
  if (shortAt > 0) throw new PermanentError(`out of stock: ${skus[shortAt - 1]}`);

  const totalCents = order.items.reduce((sum, item) => sum + Math.round(item.unitPrice * 100) * item.quantity, 0);
  const total = totalCents / 100;
  if (total > PAYMENT_LIMIT) throw new PermanentError(`payment declined: ${total} ${order.currency} exceeds the limit`);
  // The payment id derives from the message id, so a re-run charges the same payment.
  const paymentId = `pay_${createHash("sha256").update(ctx.messageId).digest("hex").slice(0, 20)}`;
  ctx.log.info({ paymentId, total, currency: order.currency }, "payment captured");

  return { total, currency: order.currency, paymentId, reserved: Object.fromEntries(quantities) };
}
