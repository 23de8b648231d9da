import type Redis from "ioredis";
import { isOrderId, type OrderResource, type OrderStatus } from "../domain/order";
import { InvalidCursorError } from "./invalid-cursor";
import { keys } from "./keys";
import { customerHash, toResource } from "./order-store";

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
  constructor(private readonly redis: Redis) {}

  async list(query: OrderListQuery): Promise<OrderPage> {
    if (query.cursor !== undefined && !isOrderId(query.cursor)) throw new InvalidCursorError("cursor is not valid");
    const index = query.customerId ? keys.customerOrders(customerHash(query.customerId)) : keys.orderIndex();
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

  /** The orders of `ids` in one round trip; undefined where one is gone (expired, or refused by the broker). */
  private async read(ids: string[]): Promise<(OrderResource | undefined)[]> {
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(keys.order(id)).lrange(keys.history(id), 0, -1);
    const replies = (await pipeline.exec()) ?? [];
    return ids.map((id, at) => {
      const [hashError, hash] = replies[at * 2] as [Error | null, Record<string, string>];
      const [historyError, history] = replies[at * 2 + 1] as [Error | null, string[]];
      if (hashError) throw hashError;
      if (historyError) throw historyError;
      return hash.doc ? toResource(id, hash, history) : undefined;
    });
  }
}
