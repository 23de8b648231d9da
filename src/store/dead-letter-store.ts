import { createHash } from "node:crypto";
import type { DeadLetterReason } from "../runtime/dead-letter-reason";
import { InvalidCursorError } from "./invalid-cursor";
import { keysFor, type RedisKeys } from "./keys";
import type { RedisClient } from "./redis";

export interface DeadLetter {
  id: string;
  orderId: string | null;
  messageId: string;
  subscription: string;
  queue: string;
  reason: DeadLetterReason;
  attempts: number;
  error: string;
  /** The message body as it was (UTF-8 text, JSON for orders), cut at MAX_STORED_PAYLOAD_BYTES. */
  payload: string;
  /** The body was longer than what is stored: it cannot be replayed. */
  payloadTruncated?: boolean;
  contentType: string | null;
  /** The headers that travel with the message (request id, order id, traceparent). */
  headers: Record<string, string>;
  deadLetteredAt: string;
}

export interface DeadLetterFilter {
  reason?: DeadLetterReason;
  subscription?: string;
  /** Only these dead letters. */
  ids?: readonly string[];
}

export interface DeadLetterQuery extends DeadLetterFilter {
  limit: number;
  /** The previous page's `nextCursor`. */
  cursor?: string;
}

export interface DeadLetterPage {
  items: DeadLetter[];
  nextCursor?: string;
}

interface IndexPosition {
  id: string;
  score: number;
}

/** How many index entries one page reads at most while it filters. */
const MAX_SCANNED = 5000;
const CHUNK = 500;

function parseCursor(cursor: string): IndexPosition {
  const match = /^(\d{1,15}):([0-9a-f]{32})$/.exec(cursor);
  if (!match) throw new InvalidCursorError("cursor is not valid");
  return { score: Number(match[1]), id: match[2]! };
}

export function matches(entry: DeadLetter, filter: DeadLetterFilter): boolean {
  return (
    (filter.reason === undefined || entry.reason === filter.reason) &&
    (filter.subscription === undefined || entry.subscription === filter.subscription) &&
    (filter.ids === undefined || filter.ids.includes(entry.id))
  );
}

/** Default of DEAD_LETTER_RETENTION_MS: 30 days. */
export const DEFAULT_DEAD_LETTER_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** Orders are at most 64 KiB; a larger body (another publisher's) is stored cut to this. */
export const MAX_STORED_PAYLOAD_BYTES = 64 * 1024;

/**
 * Dead letters an operator can list, replay or delete, kept for `retentionMs` after they were
 * dead-lettered (each entry expires in Redis, the index drops what is older).
 */
export class DeadLetterStore {
  private readonly retentionMs: number;
  private readonly keys: RedisKeys;

  constructor(
    private readonly redis: RedisClient,
    options: { retentionMs?: number } = {},
  ) {
    this.retentionMs = options.retentionMs ?? DEFAULT_DEAD_LETTER_RETENTION_MS;
    this.keys = keysFor(redis);
  }

  /** The body as a dead letter stores it: whole, or cut at MAX_STORED_PAYLOAD_BYTES and marked so. */
  static storedPayload(content: Buffer): Pick<DeadLetter, "payload" | "payloadTruncated"> {
    if (content.length <= MAX_STORED_PAYLOAD_BYTES) return { payload: content.toString("utf8") };
    return { payload: content.subarray(0, MAX_STORED_PAYLOAD_BYTES).toString("utf8"), payloadTruncated: true };
  }

  /** One entry per subscription and message: recording the same dead letter twice is harmless. */
  static idFor(subscription: string, messageId: string): string {
    return createHash("sha256").update(`${subscription}\n${messageId}`).digest("hex").slice(0, 32);
  }

  async save(entry: DeadLetter): Promise<void> {
    const deadLetteredAt = Date.parse(entry.deadLetteredAt);
    const expiresInMs = Math.max(1, deadLetteredAt + this.retentionMs - Date.now());
    await this.redis
      .multi()
      .set(this.keys.deadLetter(entry.id), JSON.stringify(entry), "PX", expiresInMs)
      .zadd(this.keys.deadLetterIndex(), String(deadLetteredAt), entry.id)
      // The index forgets what has expired, so it stays as bounded as the entries.
      .zremrangebyscore(this.keys.deadLetterIndex(), "-inf", String(Date.now() - this.retentionMs))
      .exec();
  }

  async get(id: string): Promise<DeadLetter | undefined> {
    if (!/^[0-9a-f]{32}$/.test(id)) return undefined;
    const text = await this.redis.get(this.keys.deadLetter(id));
    return text ? (JSON.parse(text) as DeadLetter) : undefined;
  }

  /** Oldest first, within the retention. */
  async list(limit = 1000): Promise<DeadLetter[]> {
    await this.redis.zremrangebyscore(this.keys.deadLetterIndex(), "-inf", String(Date.now() - this.retentionMs));
    const ids = await this.redis.zrange(this.keys.deadLetterIndex(), "0", String(limit - 1));
    if (ids.length === 0) return [];
    const texts = await this.redis.mget(ids.map((id) => this.keys.deadLetter(id)));
    return texts.filter((text): text is string => text !== null).map((text) => JSON.parse(text) as DeadLetter);
  }

  /**
   * Oldest first, the ones matching `filter`, from after `cursor` (the previous page's
   * `nextCursor`). Reads at most MAX_SCANNED entries per page: a filtered page can be short.
   */
  async page(query: DeadLetterQuery): Promise<DeadLetterPage> {
    const index = this.keys.deadLetterIndex();
    await this.redis.zremrangebyscore(index, "-inf", String(Date.now() - this.retentionMs));
    let position = query.cursor === undefined ? undefined : parseCursor(query.cursor);
    const items: DeadLetter[] = [];
    for (let scanned = 0; scanned < MAX_SCANNED; ) {
      const ids = await this.idsAfter(position, CHUNK);
      if (ids.length === 0) return { items };
      const texts = await this.redis.mget(ids.map(({ id }) => this.keys.deadLetter(id)));
      for (const [at, text] of texts.entries()) {
        scanned += 1;
        position = ids[at]!;
        const entry = text ? (JSON.parse(text) as DeadLetter) : undefined;
        if (entry && matches(entry, query)) items.push(entry);
        if (items.length === query.limit) return { items, nextCursor: `${position.score}:${position.id}` };
      }
      if (ids.length < CHUNK) return { items };
    }
    return { items, ...(position ? { nextCursor: `${position.score}:${position.id}` } : {}) };
  }

  /** Index entries after `position` in (score, id) order: its millisecond's larger ids, then later ones. */
  private async idsAfter(position: IndexPosition | undefined, count: number): Promise<IndexPosition[]> {
    const index = this.keys.deadLetterIndex();
    let skip = 0;
    if (position) {
      const sameMs = await this.redis.zrangebyscore(index, position.score, position.score);
      skip = sameMs.filter((id) => id <= position.id).length;
    }
    const from = position ? String(position.score) : "-inf";
    const raw = await this.redis.zrangebyscore(index, from, "+inf", "WITHSCORES", "LIMIT", skip, count);
    const ids: IndexPosition[] = [];
    for (let at = 0; at < raw.length; at += 2) ids.push({ id: raw[at]!, score: Number(raw[at + 1]) });
    return ids;
  }

  async remove(id: string): Promise<boolean> {
    const [[, removed]] = (await this.redis
      .multi()
      .del(this.keys.deadLetter(id))
      .zrem(this.keys.deadLetterIndex(), id)
      .exec()) as [[Error | null, number]];
    return removed === 1;
  }
}
