import type { Publisher } from "../broker/broker";
import { PublishError } from "../broker/publications";
import { ORDER_PUBLICATION } from "../broker/topology";
import type { CreateOrder, OrderMessage, OrderResource } from "../domain/order";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { idempotencySlotTag, idWithSlotTag } from "../store/keys";
import { acceptedResource, type IdempotencyClaim, type OrderDocument, OrderStore } from "../store/order-store";
import type { ReplicationBarrier } from "../store/replication-barrier";
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

  private readonly store: OrderStore;
  private readonly publisher: Publisher;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly deferred: DeferredWrites;
  private readonly replication?: ReplicationBarrier;

  constructor(options: {
    store: OrderStore;
    publisher: Publisher;
    metrics: Metrics;
    log: Logger;
    /** Clean-ups that wait for Redis to come back. */
    deferred: DeferredWrites;
    /** With Redis replicas: the order's record reaches one before the 202. */
    replication?: ReplicationBarrier;
  }) {
    this.replication = options.replication;
    this.store = options.store;
    this.publisher = options.publisher;
    this.metrics = options.metrics;
    this.log = options.log;
    this.deferred = options.deferred;
    this.timeouts = new OrderTimeouts(options.publisher, options.log);
  }

  /** Sends the timeout messages still waiting for their batch (before the publisher closes). */
  close(): Promise<void> {
    return this.timeouts.flush();
  }

  async accept(request: IntakeRequest): Promise<IntakeResult> {
    const createdAt = new Date().toISOString();
    const doc = OrderStore.document(request.order);
    const idem = request.idempotencyKey
      ? OrderStore.idempotencyClaim(request.idempotencyKey, request.rawBody)
      : undefined;
    // On Redis Cluster the order and its idempotency key are written by one script, so they
    // must share a hash slot: the id ends with the key's tag.
    const orderId = idem ? idWithSlotTag(Bun.randomUUIDv7(), idempotencySlotTag(idem.keyHash)) : Bun.randomUUIDv7();

    let created: Awaited<ReturnType<OrderStore["create"]>>;
    try {
      created = await this.store.create(orderId, doc, createdAt, idem);
    } catch (error) {
      // Redis may have written the record before the connection failed: remove it once it is back.
      this.deferred.schedule("remove the record of an order answered 503", { orderId }, () =>
        this.store.reject(orderId, idem),
      );
      throw error;
    }
    if (created.kind === "mismatch") return { kind: "key_mismatch" };
    if (created.kind === "in_flight") return { kind: "key_in_flight" };
    if (created.kind === "replay") return this.replay(created.orderId);
    if (created.kind === "abandoned") return this.takeOver(created.orderId, idem!, orderId, request);

    const headers = messageHeaders(orderId, request);
    try {
      await this.publish(orderId, doc, createdAt, headers);
    } catch (error) {
      let rejected: Awaited<ReturnType<OrderStore["reject"]>>;
      try {
        rejected = await this.store.reject(orderId, idem);
      } catch {
        this.deferred.schedule("remove the record of an order answered 503", { orderId }, () =>
          this.store.reject(orderId, idem),
        );
        rejected = "rejected";
      }
      // A worker that already received the message proves the broker routed it. A retry that
      // took the key over publishes the order itself and answers for it.
      if (rejected !== "taken") return this.notAccepted(orderId, request, error);
    }
    if (idem) await this.confirmKey(idem, orderId);
    await this.replication?.wait();
    return { kind: "accepted", order: this.accepted(orderId, doc, createdAt, headers, request.requestId) };
  }

  /**
   * A retry of a request that never finished — its process died after recording the order,
   * before or after publishing it: publish the order again under its first id (workers skip the
   * second message if the first got through) and answer as a replay of the first request.
   */
  private async takeOver(
    firstId: string,
    idem: IdempotencyClaim,
    owner: string,
    request: IntakeRequest,
  ): Promise<IntakeResult> {
    const takeOver = await this.store.takeOver(firstId, idem, owner);
    switch (takeOver.kind) {
      case "mismatch":
        return { kind: "key_mismatch" };
      case "in_flight":
        return { kind: "key_in_flight" };
      case "replay":
        return this.replay(firstId);
      case "gone":
        // The first order no longer exists and the key is free: a new order, as if the key were new.
        return this.accept(request);
      case "republish":
        break;
    }
    this.log.info(
      { orderId: firstId, requestId: request.requestId },
      "order of an unfinished request published again for its retry",
    );
    const headers = messageHeaders(firstId, request);
    try {
      await this.publish(firstId, takeOver.doc, takeOver.createdAt, headers);
    } catch (error) {
      await this.store.release(idem, owner).catch(() => {});
      return this.notAccepted(firstId, request, error);
    }
    await this.confirmKey(idem, firstId);
    await this.replication?.wait();
    return {
      kind: "replayed",
      order: this.accepted(firstId, takeOver.doc, takeOver.createdAt, headers, request.requestId),
    };
  }

  /** The broker did not take the order: the answer is 503, and why. */
  private notAccepted(orderId: string, request: IntakeRequest, error: unknown): IntakeResult {
    const reason = error instanceof PublishError ? error.reason : "error";
    this.log.warn(
      { orderId, requestId: request.requestId, reason, err: error },
      "order not accepted: broker did not take it",
    );
    return { kind: "unavailable", reason };
  }

  private async replay(orderId: string): Promise<IntakeResult> {
    const order = await this.store.initialSnapshot(orderId);
    // The replayed order's record has expired while its key has not: treat as unknown.
    if (!order) return { kind: "unavailable", reason: "replayed order is no longer stored" };
    return { kind: "replayed", order };
  }

  private publish(
    orderId: string,
    doc: OrderDocument,
    createdAt: string,
    headers: Record<string, string>,
  ): Promise<unknown> {
    const message: OrderMessage = { orderId, ...doc, createdAt };
    return this.publisher.publish(ORDER_PUBLICATION, message, { messageId: orderId, headers });
  }

  /** The broker confirmed the order: repeats of its request replay it from now on. */
  private async confirmKey(idem: IdempotencyClaim, orderId: string): Promise<void> {
    // The order is accepted either way; until the key is confirmed a repeat gets 409.
    await this.store
      .confirm(idem, orderId)
      .catch(() =>
        this.deferred.schedule("confirm the idempotency key of an accepted order", { orderId }, () =>
          this.store.confirm(idem, orderId),
        ),
      );
  }

  /** The broker took the order: count it and send its timeout on its way. */
  private accepted(
    orderId: string,
    doc: OrderDocument,
    createdAt: string,
    headers: Record<string, string>,
    requestId: string,
  ): OrderResource {
    this.metrics.ordersAccepted.inc();
    this.timeouts.schedule({ orderId, requestId, headers });
    return acceptedResource(orderId, doc, createdAt);
  }
}

function messageHeaders(orderId: string, request: IntakeRequest): Record<string, string> {
  const headers: Record<string, string> = { "x-request-id": request.requestId, "x-order-id": orderId };
  if (request.traceparent) headers.traceparent = request.traceparent;
  return headers;
}
