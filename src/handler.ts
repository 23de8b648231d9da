/**
 * What a handler file in handlers/ sees. A handler is
 * `export default async function (message, ctx) { … }`: returning completes the message (the
 * value becomes the order's `result`), throwing retries it per rascal.json, and throwing an
 * error named "PermanentError" dead-letters it at once.
 */

import type { Logger } from "./log";
import type { RedisClient } from "./store/redis";

export type { OrderMessage } from "./domain/order";
export { PermanentError } from "./runtime/permanent-error";

export interface PublishFromHandlerOptions {
  /** Defaults to a stable id derived from this message, so a re-run publishes the same ids. */
  messageId?: string;
}

export interface HandlerContext {
  /** The AMQP messageId: stable across retries and redeliveries, use it for idempotency. */
  messageId: string;
  /** 1-based number of this handler start for this message, crashed starts included. */
  attempt: number;
  /** Starts allowed by the subscription's retry ladder: `attempt === maxAttempts` is the last. */
  maxAttempts: number;
  /** Headers of the message (request id, order id, traceparent). */
  headers: Record<string, unknown>;
  /** Logger carrying requestId, orderId, messageId, subscription and attempt. */
  log: Logger;
  /** Publishes through a publication of rascal.json; resolves once the broker confirmed it. */
  publish(publication: string, payload: unknown, options?: PublishFromHandlerOptions): Promise<void>;
  subscription: string;
  /** The order this message belongs to, when it carries one. */
  orderId?: string;
  /** The service's Redis connection (keys share the service's prefix). */
  redis: RedisClient;
  /** Aborted when the service shuts down, or when the order is cancelled while this handler runs: stop early. */
  signal: AbortSignal;
}

export type Handler = (message: unknown, ctx: HandlerContext) => unknown;
