/**
 * Every Redis key the service uses, built only from validated ids (UUIDs, subscription names
 * from rascal.json) or hashes of client input, never from raw client strings.
 */
export const keys = {
  order: (orderId: string) => `order:${orderId}`,
  history: (orderId: string) => `order:${orderId}:history`,
  idempotency: (keyHash: string) => `idem:${keyHash}`,
  /** Every order id, sorted as text (UUIDv7: creation order): the admin listing. */
  orderIndex: () => "orders:index",
  /** One customer's order ids, the same way: the admin listing's customerId search. */
  customerOrders: (customerHash: string) => `orders:customer:${customerHash}`,
  message: (subscription: string, messageId: string) => `msg:${subscription}:${messageId}`,
  lease: (subscription: string, messageId: string) => `lease:${subscription}:${messageId}`,
  alive: (processId: string) => `alive:${processId}`,
  /** The running holders of one concurrency key value (a hash of it) of a subscription. */
  slots: (subscription: string, valueHash: string) => `slots:${subscription}:${valueHash}`,
  /** When the next handler start of a rate-limited subscription may happen. */
  rate: (subscription: string) => `rate:${subscription}`,
  deadLetter: (id: string) => `dl:${id}`,
  deadLetterIndex: () => "dl:index",
  /** Per worker process and subscription: deliveries it holds unsettled, and until when that holds. */
  unsettled: () => "activity:unsettled",
  /** Outcome counts of every process, per subscription, for the 10 s starting at `bucketMs`. */
  outcomes: (bucketMs: number) => `activity:outcomes:${bucketMs}`,
  stock: (sku: string) => `stock:${sku}`,
  reservation: (orderId: string) => `reservation:${orderId}`,
};

/**
 * The full name (with the connection's key prefix) that every worker's alive key starts with:
 * the Lua scripts build alive keys from a process id, and ioredis prefixes only KEYS.
 */
export function alivePrefix(keyPrefix: string | undefined): string {
  return `${keyPrefix ?? ""}${keys.alive("")}`;
}

/** How long finished orders, their history and message dedup markers are kept. */
export const RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Idempotency keys are kept 24 h (IETF httpapi-idempotency-key draft). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * How long a request holds its idempotency key while it records and publishes the order (a live
 * one takes at most the broker's confirm timeout, 5 s): past it, a retry takes the key over.
 */
export const IDEMPOTENCY_LEASE_MS = 30_000;
