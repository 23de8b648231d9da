import type { Publisher } from "../broker/publisher";
import { PublishError } from "../broker/publisher";
import { ORDER_PUBLICATION } from "../broker/topology";
import type { CreateOrder, OrderMessage, OrderResource } from "../domain/order";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { acceptedResource, OrderStore } from "../store/order-store";
import type { DeferredWrites } from "./deferred-writes";
import { OrderTimeouts } from "./order-timeouts";

export type IntakeResult =
  | { kind: "accepted"; order: OrderResource }
  | { kind: "replayed"; order: OrderResource }
  | { kind: "key_mismatch" }
  | { kind: "key_in_flight" }
  | { kind: "unavailable"; reason: string };

export interface IntakeRequest {
  order: CreateOrder;
  /** The body exactly as sent, for the idempotency fingerprint. */
  rawBody: unknown;
  idempotencyKey?: string;
  requestId: string;
  traceparent?: string;
}

/**
 * Accepting an order: record it, publish it, and answer "accepted" only once the broker
 * confirmed the persistent message and routed it. An order the broker did not take is
 * removed again, so a 503 leaves nothing behind.
 */
export class OrderIntake {
  private readonly timeouts: OrderTimeouts;

  constructor(
    private readonly store: OrderStore,
    private readonly publisher: Publisher,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    orderTimeoutMs: number,
    private readonly deferred: DeferredWrites,
  ) {
    this.timeouts = new OrderTimeouts(publisher, log, orderTimeoutMs);
  }

  /** Sends the timeout messages still waiting for their batch (before the publisher closes). */
  close(): Promise<void> {
    return this.timeouts.flush();
  }

  async accept(request: IntakeRequest): Promise<IntakeResult> {
    const orderId = Bun.randomUUIDv7();
    const createdAt = new Date().toISOString();
    const doc = OrderStore.document(request.order);
    const idem = request.idempotencyKey ? OrderStore.idempotencyClaim(request.idempotencyKey, request.rawBody) : undefined;

    let created;
    try {
      created = await this.store.create(orderId, doc, createdAt, idem);
    } catch (error) {
      // Redis may have written the record before the connection failed: remove it once it is back.
      this.deferred.schedule("remove the record of an order answered 503", { orderId }, () => this.store.reject(orderId, idem));
      throw error;
    }
    if (created.kind === "mismatch") return { kind: "key_mismatch" };
    if (created.kind === "in_flight") return { kind: "key_in_flight" };
    if (created.kind === "replay") {
      const order = await this.store.initialSnapshot(created.orderId);
      // The replayed order's record has expired while its key has not: treat as unknown.
      if (!order) return { kind: "unavailable", reason: "replayed order is no longer stored" };
      return { kind: "replayed", order };
    }

    const message: OrderMessage = { orderId, ...doc, createdAt };
    const headers: Record<string, string> = { "x-request-id": request.requestId, "x-order-id": orderId };
    if (request.traceparent) headers.traceparent = request.traceparent;
    try {
      await this.publisher.publish(ORDER_PUBLICATION, message, { messageId: orderId, headers });
    } catch (error) {
      const reason = error instanceof PublishError ? error.reason : "error";
      let rejected: Awaited<ReturnType<OrderStore["reject"]>>;
      try {
        rejected = await this.store.reject(orderId, idem);
      } catch {
        this.deferred.schedule("remove the record of an order answered 503", { orderId }, () => this.store.reject(orderId, idem));
        rejected = "rejected";
      }
      // A worker that already received the message proves the broker routed it.
      if (rejected === "rejected") {
        this.log.warn({ orderId, requestId: request.requestId, reason, err: error }, "order not accepted: broker did not take it");
        return { kind: "unavailable", reason };
      }
    }
    if (idem) {
      // The order is accepted either way; until the key is confirmed a repeat gets 409.
      await this.store.confirm(idem).catch(() =>
        this.deferred.schedule("confirm the idempotency key of an accepted order", { orderId }, () => this.store.confirm(idem)),
      );
    }
    this.metrics.ordersAccepted.inc();
    this.timeouts.schedule({ orderId, requestId: request.requestId, headers });
    return { kind: "accepted", order: acceptedResource(orderId, doc, createdAt) };
  }
}
