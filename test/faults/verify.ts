import type Redis from "ioredis";
import { TERMINAL_STATUSES } from "../../src/domain/order";
import type { QueueDepth } from "../helpers/private-rabbitmq";

const TERMINAL = new Set<string>(TERMINAL_STATUSES);
/** Delay queues hold messages by design (retry tiers, order timeouts): not part of "drained". */
const HOLDING_QUEUE = /\.retry\.\d+ms$|^orders\.timeout\.\d+ms$/;

export interface OrderFacts {
  id: string;
  status: string | undefined;
  attempts: number;
  terminalEntries: number;
  runs: number;
  effects: number;
}

/** Reads status, history and the fixture handler's counters of every order at once. */
export async function readOrders(redis: Redis, ids: readonly string[]): Promise<OrderFacts[]> {
  const pipeline = redis.pipeline();
  for (const id of ids) {
    pipeline.hmget(`order:${id}`, "status", "attempts");
    pipeline.lrange(`order:${id}:history`, 0, -1);
    pipeline.hget("fx:runs", id);
    pipeline.hget("fx:effects", id);
  }
  const replies = (await pipeline.exec()) ?? [];
  return ids.map((id, index) => {
    const [status, attempts] = replies[index * 4]![1] as [string | null, string | null];
    const history = replies[index * 4 + 1]![1] as string[];
    return {
      id,
      status: status ?? undefined,
      attempts: Number(attempts ?? 0),
      terminalEntries: history.filter((entry) => TERMINAL.has((JSON.parse(entry) as { status: string }).status)).length,
      runs: Number(replies[index * 4 + 2]![1] ?? 0),
      effects: Number(replies[index * 4 + 3]![1] ?? 0),
    };
  });
}

/** Polls until every order is terminal or the deadline passes; returns the last reading. */
export async function settle(redis: Redis, ids: readonly string[], timeoutMs: number): Promise<OrderFacts[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const facts = await readOrders(redis, ids).catch(() => undefined);
    if (facts?.every((order) => order.status && TERMINAL.has(order.status))) return facts;
    if (Date.now() > deadline) return facts ?? readOrders(redis, ids);
    await Bun.sleep(250);
  }
}

/** Polls until the work queues hold nothing (ready or unacknowledged); returns them either way. */
export async function drainQueues(
  broker: { queues(): Promise<QueueDepth[]> },
  timeoutMs: number,
): Promise<QueueDepth[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const queues = (await broker.queues()).filter((queue) => !HOLDING_QUEUE.test(queue.name));
    const busy = queues.filter((queue) => queue.ready + queue.unacked > 0);
    if (busy.length === 0 || Date.now() > deadline) return busy;
    await Bun.sleep(250);
  }
}

/** Order records nobody got a 202 for: a half-accepted order. */
export async function orderRecords(redis: Redis): Promise<Set<string>> {
  const found = new Set<string>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", "order:*", "COUNT", 1000);
    cursor = next;
    for (const key of keys) if (!key.endsWith(":history")) found.add(key.slice("order:".length));
  } while (cursor !== "0");
  // An order the intake refused leaves a marker without the order (see REJECT_ORDER): not a record.
  const ids = [...found];
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hexists(`order:${id}`, "doc");
  const replies = (await pipeline.exec()) ?? [];
  return new Set(ids.filter((_, index) => replies[index]?.[1] === 1));
}
