import { createHash } from "node:crypto";
import { Cluster } from "ioredis";
import type { CreateOrder, HistoryEntry, OrderMessage, OrderResource, OrderStatus } from "../domain/order";
import { orderTotal } from "../domain/order";
import { ownerAlive } from "./alive";
import { IDEMPOTENCY_LEASE_MS, IDEMPOTENCY_TTL_MS, keysFor, RETENTION_MS, type RedisKeys } from "./keys";
import type { RedisClient } from "./redis";
import { runScript } from "./run-script";
import {
  ADD_TO_INDEX_ALONE,
  CANCEL_ORDER,
  CONFIRM_ORDER,
  CREATE_ORDER,
  EXPIRE_ORDER,
  REBUILD_ORDER,
  REJECT_ORDER,
  RELEASE_ORDER,
  SET_CALLBACK_STATE,
  TAKE_OVER_ORDER,
} from "./scripts";
import { historyEntry, type Transition, toTransition } from "./transition";

/** The immutable part of an order, stored once as JSON. */
export interface OrderDocument {
  customerId: string;
  items: CreateOrder["items"];
  currency: string;
  total: number;
  callbackUrl?: string;
}

export type CreateResult =
  | { kind: "created" }
  | { kind: "replay"; orderId: string }
  | { kind: "mismatch" }
  | { kind: "in_flight" }
  /** The key's request never finished (its process died): this one may take it over. */
  | { kind: "abandoned"; orderId: string };

export type TakeOverResult =
  | { kind: "republish"; doc: OrderDocument; createdAt: string }
  | { kind: "replay" }
  | { kind: "gone" }
  | { kind: "mismatch" }
  | { kind: "in_flight" };

export interface IdempotencyClaim {
  /** SHA-256 of the client's key: the Redis key never contains client text. */
  keyHash: string;
  /** SHA-256 of the canonical JSON body. */
  fingerprint: string;
}

/** Order records and idempotency keys in Redis. */
export class OrderStore {
  private readonly keys: RedisKeys;
  /** On Redis Cluster the listing's indexes are written apart (see `indexApart`). */
  private readonly onCluster: boolean;

  /**
   * @param idempotencyLeaseMs how long a request holds its idempotency key before a retry may
   *   take the key over: well beyond the longest a live request takes from recording the order
   *   to the broker's confirm.
   */
  constructor(
    private readonly redis: RedisClient,
    private readonly idempotencyLeaseMs = IDEMPOTENCY_LEASE_MS,
  ) {
    this.keys = keysFor(redis);
    this.onCluster = redis instanceof Cluster;
  }

  /**
   * The keys RECORD_ORDER writes: the order's, and the listing's indexes. On Redis Cluster
   * those are in other slots: the order's key stands in for them (see `indexApart`).
   */
  private recordKeys(orderId: string, customerId: string): string[] {
    const order = this.keys.order(orderId);
    if (this.onCluster) return [order, this.keys.history(orderId), order, order];
    return [
      order,
      this.keys.history(orderId),
      this.keys.orderIndex(),
      this.keys.customerOrders(customerHash(customerId)),
    ];
  }

  /**
   * On Redis Cluster, the listing's index writes of RECORD_ORDER, done just before it (the
   * listing skips an id whose record never came). Only called there: on a single Redis the
   * same script writes them, with no extra step (or await) on the intake's path.
   */
  private async indexApart(orderId: string, customerId: string, oldestKept: string): Promise<void> {
    const indexes = [this.keys.orderIndex(), this.keys.customerOrders(customerHash(customerId))];
    await Promise.all(
      indexes.map((index, at) =>
        runScript(this.redis, "orderIndex", ADD_TO_INDEX_ALONE, [index], [orderId, oldestKept, RETENTION_MS, at]),
      ),
    );
  }

  static document(order: CreateOrder): OrderDocument {
    const doc: OrderDocument = {
      customerId: order.customerId,
      items: order.items,
      currency: order.currency,
      total: orderTotal(order.items),
    };
    if (order.callbackUrl !== undefined) doc.callbackUrl = order.callbackUrl;
    return doc;
  }

  static idempotencyClaim(key: string, body: unknown): IdempotencyClaim {
    return {
      keyHash: sha256(key),
      fingerprint: sha256(canonicalJson(body)),
    };
  }

  /** Writes the order as `accepted` before it is published, claiming the idempotency key with it. */
  async create(orderId: string, doc: OrderDocument, createdAt: string, idem?: IdempotencyClaim): Promise<CreateResult> {
    // One create in a hundred trims the indexes: bounded all the same, at a hundredth of the cost.
    const oldestKept = Math.random() < INDEX_TRIM_SHARE ? oldestKeptId(Date.parse(createdAt) - RETENTION_MS) : "";
    if (this.onCluster) await this.indexApart(orderId, doc.customerId, oldestKept);
    const orderKeys = this.recordKeys(orderId, doc.customerId);
    const args: (string | number)[] = [
      JSON.stringify(doc),
      createdAt,
      historyEntry("accepted", createdAt),
      RETENTION_MS,
      orderId,
      oldestKept,
    ];
    if (idem) {
      const now = Date.now();
      orderKeys.push(this.keys.idempotency(idem.keyHash));
      args.push(idem.fingerprint, IDEMPOTENCY_TTL_MS, now, now + this.idempotencyLeaseMs);
    }
    const [kind, otherId] = (await runScript(this.redis, "orderCreate", CREATE_ORDER, orderKeys, args)) as [
      string,
      string?,
    ];
    if (kind === "replay" || kind === "abandoned") return { kind, orderId: otherId! };
    if (kind === "created" || kind === "mismatch" || kind === "in_flight") return { kind };
    throw new Error(`order id collision for ${orderId}`);
  }

  /**
   * Takes over the abandoned key of `orderId` for the request `owner` (see CreateResult). On
   * `republish` the caller publishes the order again, then `confirm`s, or `release`s on failure.
   */
  async takeOver(orderId: string, idem: IdempotencyClaim, owner: string): Promise<TakeOverResult> {
    const now = Date.now();
    const [kind, doc, createdAt] = (await runScript(
      this.redis,
      "orderTakeOver",
      TAKE_OVER_ORDER,
      [this.keys.idempotency(idem.keyHash), this.keys.order(orderId)],
      [idem.fingerprint, orderId, now, owner, now + this.idempotencyLeaseMs],
    )) as [string, string?, string?];
    if (kind === "republish") return { kind, doc: JSON.parse(doc!) as OrderDocument, createdAt: createdAt! };
    if (kind === "replay" || kind === "gone" || kind === "mismatch" || kind === "in_flight") return { kind };
    throw new Error(`unexpected take-over answer ${kind} for ${orderId}`);
  }

  /** A take-over whose publish failed: the next retry may try again at once. */
  async release(idem: IdempotencyClaim, owner: string): Promise<void> {
    await runScript(this.redis, "orderRelease", RELEASE_ORDER, [this.keys.idempotency(idem.keyHash)], [owner]);
  }

  /** The broker confirmed `orderId`: repeats of this idempotent request now replay it. */
  async confirm(idem: IdempotencyClaim, orderId: string): Promise<void> {
    await runScript(this.redis, "orderConfirm", CONFIRM_ORDER, [this.keys.idempotency(idem.keyHash)], [orderId]);
  }

  /**
   * The broker did not take the order: remove it (and free the idempotency key) unless a worker
   * already received the message ("taken") or a retry took the key over ("superseded").
   */
  async reject(orderId: string, idem?: IdempotencyClaim): Promise<"rejected" | "taken" | "superseded"> {
    const orderKeys = [this.keys.order(orderId), this.keys.history(orderId)];
    if (idem) orderKeys.push(this.keys.idempotency(idem.keyHash));
    return (await runScript(this.redis, "orderReject", REJECT_ORDER, orderKeys, [orderId, RETENTION_MS])) as
      | "rejected"
      | "taken"
      | "superseded";
  }

  async get(orderId: string): Promise<OrderResource | undefined> {
    const [[hashError, hash], [listError, history]] = (await this.redis
      .multi()
      .hgetall(this.keys.order(orderId))
      .lrange(this.keys.history(orderId), 0, -1)
      .exec()) as [[Error | null, Record<string, string>], [Error | null, string[]]];
    if (hashError) throw hashError;
    if (listError) throw listError;
    if (!hash.doc) return undefined;
    return toResource(orderId, hash, history);
  }

  /**
   * Records an order again from its message, when a worker finds no record of it (Redis lost the
   * write: a failover to a replica that had not received it). False when a record exists.
   */
  async rebuild(message: OrderMessage, now: string): Promise<boolean> {
    const { orderId, createdAt, customerId, items, currency, callbackUrl } = message;
    const doc = OrderStore.document({
      customerId,
      items,
      currency,
      ...(callbackUrl === undefined ? {} : { callbackUrl }),
    });
    if (this.onCluster) await this.indexApart(orderId, doc.customerId, "");
    const rebuilt = await runScript(
      this.redis,
      "orderRebuild",
      REBUILD_ORDER,
      this.recordKeys(orderId, doc.customerId),
      [
        JSON.stringify(doc),
        createdAt,
        historyEntry("accepted", createdAt, "record rebuilt from its message: Redis had lost it"),
        RETENTION_MS,
        orderId,
        now,
      ],
    );
    return rebuilt === 1;
  }

  /** The resource as the first 202 showed it, for idempotent replays. */
  async initialSnapshot(orderId: string): Promise<OrderResource | undefined> {
    const hash = await this.redis.hmget(this.keys.order(orderId), "doc", "createdAt");
    const [doc, createdAt] = hash;
    if (!doc || !createdAt) return undefined;
    return acceptedResource(orderId, JSON.parse(doc) as OrderDocument, createdAt);
  }

  /** Records the state of the order's result callback (`callback` in the resource). */
  async setCallbackState(orderId: string, state: { status: string; attempts: number }): Promise<void> {
    await runScript(
      this.redis,
      "orderCallbackState",
      SET_CALLBACK_STATE,
      [this.keys.order(orderId)],
      [JSON.stringify(state)],
    );
  }

  /**
   * Cancels an order (see CANCEL_ORDER): `cancelled` with its transition when it ended now,
   * `requested` when a handler runs it (`subscription` is the one whose messages are orders).
   */
  async cancel(orderId: string, subscription: string, now: string): Promise<CancelResult> {
    const orderKeys = [this.keys.order(orderId), this.keys.history(orderId), this.keys.lease(subscription, orderId)];
    const args = [now, historyEntry("cancelled", now), RETENTION_MS];
    let answer = (await runScript(this.redis, "orderCancel", CANCEL_ORDER, orderKeys, [...args, "", ""])) as string[];
    // A handler holds the order: whether its process runs decides between asking it to stop and
    // ending the order now. Asked here, not in the script: on Redis Cluster the process's alive
    // key is in another slot. A holder that changed meanwhile is looked at again.
    for (let tries = 0; answer[0] === "held" && tries < 3; tries++) {
      const holder = answer[1]!;
      const alive = await ownerAlive(this.redis, holder);
      answer = (await runScript(this.redis, "orderCancel", CANCEL_ORDER, orderKeys, [
        ...args,
        holder,
        alive ? "1" : "0",
      ])) as string[];
    }
    const [kind, detail, doc] = answer as [string, string?, string?];
    switch (kind) {
      case "cancelled":
        return { kind, transition: { transitioned: true, order: { historyLength: Number(detail), doc: doc! } } };
      case "conflict":
        return { kind, status: detail as OrderStatus };
      case "requested":
      case "already":
      case "unknown":
        return { kind };
      default:
        throw new Error(`unexpected cancel answer ${kind}`);
    }
  }

  /**
   * Ends an unfinished order `expired`, unless a replay re-opened it after this timeout was
   * scheduled (`replayedAt`: the replay this timeout belongs to, none for acceptance's).
   */
  async expire(orderId: string, now: string, detail: string, replayedAt = ""): Promise<Transition> {
    const answer = await runScript(
      this.redis,
      "orderExpire",
      EXPIRE_ORDER,
      [this.keys.order(orderId), this.keys.history(orderId)],
      [now, historyEntry("expired", now, detail), replayedAt],
    );
    return toTransition(answer);
  }
}

export type CancelResult =
  | { kind: "cancelled"; transition: Transition }
  | { kind: "requested" | "already" | "unknown" }
  | { kind: "conflict"; status: OrderStatus };

export function acceptedResource(orderId: string, doc: OrderDocument, createdAt: string): OrderResource {
  return {
    id: orderId,
    status: "accepted",
    ...doc,
    attempts: 0,
    createdAt,
    updatedAt: createdAt,
    history: [{ status: "accepted", at: createdAt }],
  };
}

export function toResource(orderId: string, hash: Record<string, string>, history: string[]): OrderResource {
  const doc = JSON.parse(hash.doc!) as OrderDocument;
  const resource: OrderResource = {
    id: orderId,
    status: hash.status as OrderStatus,
    ...doc,
    attempts: Number(hash.attempts ?? 0),
    createdAt: hash.createdAt!,
    updatedAt: hash.updatedAt ?? hash.createdAt!,
    history: history.map((entry) => JSON.parse(entry) as HistoryEntry),
  };
  if (hash.result !== undefined) resource.result = JSON.parse(hash.result);
  if (hash.error !== undefined) resource.error = JSON.parse(hash.error);
  if (hash.nextRetryAt !== undefined) resource.nextRetryAt = hash.nextRetryAt;
  if (hash.callback !== undefined) resource.callback = JSON.parse(hash.callback);
  if (hash.cancelRequested === "1" && hash.status === "processing") resource.cancelRequested = true;
  return resource;
}

/** The share of creates that also trim the listing's indexes. */
const INDEX_TRIM_SHARE = 0.01;

/**
 * The smallest order id created at `ms` or later. Order ids are UUIDv7, whose first 48 bits are
 * the creation time in ms: as text they sort in creation order.
 */
export function oldestKeptId(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}`;
}

/** The customer index's key part: a hash, never the client's string itself. */
export function customerHash(customerId: string): string {
  return sha256(customerId).slice(0, 32);
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** JSON with object keys sorted, so that key order does not change the fingerprint. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value);
}
