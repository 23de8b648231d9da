import { isOrderId, type OrderResource, type OrderStatus } from "../domain/order";
import { InvalidCursorError } from "./invalid-cursor";
import { keysFor, type RedisKeys } from "./keys";
import { customerHash, toResource } from "./order-store";
import type { RedisClient } from "./redis";

export interface OrderListQuery {
  status?: OrderStatus;
  customerId?: string;
  limit: number;
  /** The previous page's `nextCursor`: the id of the last order it read. */
  cursor?: string;
}

export interface OrderPage {
  items: OrderResource[];
  nextCursor?: string;
}

/** How many index entries one page reads at most while it filters by status. */
const MAX_SCANNED = 5000;
const CHUNK = 200;

/**
 * The admin listing of orders, newest first, from the indexes the intake writes with each
 * order (all orders, and per customer; both forget what is past the order retention). A status
 * filter reads the index until the page is full or MAX_SCANNED entries were read: a page can
 * then be short, with a `nextCursor` to go on from.
 */
export class OrderListing {
  private readonly keys: RedisKeys;

  constructor(private readonly redis: RedisClient) {
    this.keys = keysFor(redis);
  }

  async list(query: OrderListQuery): Promise<OrderPage> {
    if (query.cursor !== undefined && !isOrderId(query.cursor)) throw new InvalidCursorError("cursor is not valid");
    const index = query.customerId ? this.keys.customerOrders(customerHash(query.customerId)) : this.keys.orderIndex();
    const items: OrderResource[] = [];
    let last = query.cursor;
    for (let scanned = 0; scanned < MAX_SCANNED; ) {
      const ids = await this.redis.zrevrangebylex(index, last ? `(${last}` : "+", "-", "LIMIT", 0, CHUNK);
      if (ids.length === 0) return { items };
      const orders = await this.read(ids);
      for (const [at, order] of orders.entries()) {
        scanned += 1;
        last = ids[at]!;
        if (order && (!query.status || order.status === query.status)) items.push(order);
        if (items.length === query.limit) return { items, nextCursor: last };
      }
      if (ids.length < CHUNK) return { items };
    }
    return { items, nextCursor: last };
  }

  /**
   * The orders of `ids`, all requested at once; undefined where one is gone (expired, or
   * refused by the broker). Separate commands rather than one pipeline: on Redis Cluster the
   * orders live in many slots, which one pipeline may not span.
   */
  private read(ids: string[]): Promise<(OrderResource | undefined)[]> {
    return Promise.all(
      ids.map(async (id) => {
        const [hash, history] = await Promise.all([
          this.redis.hgetall(this.keys.order(id)),
          this.redis.lrange(this.keys.history(id), 0, -1),
        ]);
        return hash.doc ? toResource(id, hash, history) : undefined;
      }),
    );
  }
}
