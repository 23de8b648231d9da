import { Cluster } from "ioredis";
import type { RedisClient } from "./redis";

/**
 * Every Redis key the service uses, built only from validated ids (UUIDs, subscription names
 * from rascal.json) or hashes of client input, never from raw client strings.
 *
 * On Redis Cluster a script may only touch keys of one hash slot, so there (`clusterKeys`)
 * every key one script touches carries the same hash tag (the `{…}` part, which alone is
 * hashed): an order's record, history and messages the tag of its id (`slotTag`), its
 * idempotency key that of the key's hash (an order created with one gets an id with that tag:
 * see `idWithSlotTag`); dead letters, activity and stock each one tag of their own. On a single
 * Redis (`keys`) the names stay as they have always been.
 */
export interface RedisKeys {
  order(orderId: string): string;
  history(orderId: string): string;
  idempotency(keyHash: string): string;
  /** Every order id, sorted as text (UUIDv7: creation order): the admin listing. */
  orderIndex(): string;
  /** One customer's order ids, the same way: the admin listing's customerId search. */
  customerOrders(customerHash: string): string;
  /** A message's dedup marker and attempts; `orderId`: the order it drives, if any. */
  message(subscription: string, messageId: string, orderId?: string): string;
  /** The claim on a message while a handler runs it. */
  lease(subscription: string, messageId: string, orderId?: string): string;
  alive(processId: string): string;
  /** The running holders of one concurrency key value (a hash of it) of a subscription. */
  slots(subscription: string, valueHash: string): string;
  /** When the next handler start of a rate-limited subscription may happen. */
  rate(subscription: string): string;
  deadLetter(id: string): string;
  deadLetterIndex(): string;
  /** Per worker process and subscription: deliveries it holds unsettled, and until when that holds. */
  unsettled(): string;
  /** Outcome counts of every process, per subscription, for the 10 s starting at `bucketMs`. */
  outcomes(bucketMs: number): string;
  stock(sku: string): string;
  reservation(orderId: string): string;
}

/** How many characters of an id make its hash tag: 16 bits of a hex id, spread over every slot. */
const SLOT_TAG_LENGTH = 4;

/** The hash tag of an id: its last characters (the random end of a UUIDv7), never empty. */
export function slotTag(id: string): string {
  return id.slice(-SLOT_TAG_LENGTH).replaceAll(/[^0-9A-Za-z_-]/g, "_") || "_";
}

/** The hash tag an idempotency key's hash gives the order created with it. */
export function idempotencySlotTag(keyHash: string): string {
  return keyHash.slice(0, SLOT_TAG_LENGTH);
}

/**
 * A UUIDv7 whose hash tag is `tag` (4 hex digits): its last, random, digits replaced, so that
 * the order lands in the slot of the idempotency key it was created with.
 */
export function idWithSlotTag(orderId: string, tag: string): string {
  return orderId.slice(0, -SLOT_TAG_LENGTH) + tag;
}

function layout(hashTags: boolean): RedisKeys {
  // The tag as a function, so that a single Redis's names do not compute one.
  const tagged = (name: string, tag: () => string, rest: string) =>
    hashTags ? `${name}:{${tag()}}:${rest}` : `${name}:${rest}`;
  return {
    order: (orderId) => tagged("order", () => slotTag(orderId), orderId),
    history: (orderId) => `${tagged("order", () => slotTag(orderId), orderId)}:history`,
    idempotency: (keyHash) => tagged("idem", () => idempotencySlotTag(keyHash), keyHash),
    orderIndex: () => "orders:index",
    customerOrders: (customerHash) => `orders:customer:${customerHash}`,
    message: (subscription, messageId, orderId) =>
      tagged("msg", () => slotTag(orderId ?? messageId), `${subscription}:${messageId}`),
    lease: (subscription, messageId, orderId) =>
      tagged("lease", () => slotTag(orderId ?? messageId), `${subscription}:${messageId}`),
    alive: (processId) => `alive:${processId}`,
    slots: (subscription, valueHash) => `slots:${subscription}:${valueHash}`,
    rate: (subscription) => `rate:${subscription}`,
    deadLetter: (id) => tagged("dl", () => "dl", id),
    deadLetterIndex: () => tagged("dl", () => "dl", "index"),
    unsettled: () => tagged("activity", () => "activity", "unsettled"),
    outcomes: (bucketMs) => tagged("activity", () => "activity", `outcomes:${bucketMs}`),
    stock: (sku) => tagged("stock", () => "stock", sku),
    reservation: (orderId) => tagged("reservation", () => "stock", orderId),
  };
}

/** The names on a single Redis (or one behind Sentinel). */
export const keys: RedisKeys = layout(false);
/** The names on Redis Cluster. */
export const clusterKeys: RedisKeys = layout(true);

/** The names for this client's Redis. */
export function keysFor(redis: RedisClient): RedisKeys {
  return redis instanceof Cluster ? clusterKeys : keys;
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
