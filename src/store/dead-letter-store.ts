import { createHash } from "node:crypto";
import type Redis from "ioredis";
import type { DeadLetterReason } from "../runtime/dead-letter-reason";
import { keys } from "./keys";

export interface DeadLetter {
  id: string;
  orderId: string | null;
  messageId: string;
  subscription: string;
  queue: string;
  reason: DeadLetterReason;
  attempts: number;
  error: string;
  /** The message body as it was (UTF-8 text, JSON for orders). */
  payload: string;
  contentType: string | null;
  /** The headers that travel with the message (request id, order id, traceparent). */
  headers: Record<string, string>;
  deadLetteredAt: string;
}

/** Dead letters an operator can list, replay or delete; kept until then. */
export class DeadLetterStore {
  constructor(private readonly redis: Redis) {}

  /** One entry per subscription and message: recording the same dead letter twice is harmless. */
  static idFor(subscription: string, messageId: string): string {
    return createHash("sha256").update(`${subscription}\n${messageId}`).digest("hex").slice(0, 32);
  }

  async save(entry: DeadLetter): Promise<void> {
    await this.redis
      .multi()
      .set(keys.deadLetter(entry.id), JSON.stringify(entry))
      .zadd(keys.deadLetterIndex(), String(Date.parse(entry.deadLetteredAt)), entry.id)
      .exec();
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    if (!/^[0-9a-f]{32}$/.test(id)) return undefined;
    const text = await this.redis.get(keys.deadLetter(id));
    return text ? (JSON.parse(text) as DeadLetter) : undefined;
  }

  /** Oldest first. */
  async list(limit = 1000): Promise<DeadLetter[]> {
    const ids = await this.redis.zrange(keys.deadLetterIndex(), "0", String(limit - 1));
    if (ids.length === 0) return [];
    const texts = await this.redis.mget(ids.map((id) => keys.deadLetter(id)));
    return texts.filter((text): text is string => text !== null).map((text) => JSON.parse(text) as DeadLetter);
  }

  async remove(id: string): Promise<boolean> {
    const [[, removed]] = (await this.redis
      .multi()
      .del(keys.deadLetter(id))
      .zrem(keys.deadLetterIndex(), id)
      .exec()) as [[Error | null, number]];
    return removed === 1;
  }
}
