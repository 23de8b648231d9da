import type { OpenAPIHono } from "@hono/zod-openapi";
import { type CreateOrder, createOrderSchema, isOrderId, type OrderResource } from "../../domain/order";
import type { OrderCancellation } from "../../intake/order-cancellation";
import type { IntakeRequest, IntakeResult, OrderIntake } from "../../intake/order-intake";
import type { Logger } from "../../log";
import type { OrderStore } from "../../store/order-store";
import type { AppEnv } from "../app-env";
import { jsonBody } from "../middleware/json-body";
import { fieldErrors, ProblemError } from "../problem";
import { validTraceparent } from "../traceparent";
import { cancelOrderRoute, createOrderBatchRoute, createOrderRoute, getOrderRoute } from "./orders.routes";

export const MAX_ORDER_BYTES = 64 * 1024;
/** A batch's body: 100 orders, each well below its own limit in practice (the server takes 1 MiB). */
const MAX_BATCH_BYTES = 1024 * 1024;
/** Seconds a client should wait before retrying a 503. */
const RETRY_AFTER_SECONDS = "2";
/** Seconds before retrying a key still in flight: the first request usually answers within ms. */
const IN_FLIGHT_RETRY_AFTER_SECONDS = "1";

export function unavailable(detail: string): ProblemError {
  return new ProblemError(503, detail, { headers: { "Retry-After": RETRY_AFTER_SECONDS } });
}

export interface OrderRoutesOptions {
  intake: OrderIntake;
  store: OrderStore;
  cancellation: OrderCancellation;
}

/** POST /orders, /orders/batch, /orders/{id}/cancel and GET /orders/{id}: served by the api and all roles. */
export function registerOrderRoutes(app: OpenAPIHono<AppEnv>, options: OrderRoutesOptions): void {
  const { intake, store, cancellation } = options;
  // Before the route's validators: 415, 413 and 400 come before any 422.
  app.openapi({ ...createOrderRoute, middleware: [jsonBody(MAX_ORDER_BYTES)] }, async (c) => {
    if (c.get("draining")) throw unavailable("the service is shutting down");
    const outcome = await acceptOne(intake, c.get("log"), {
      order: c.req.valid("json"),
      rawBody: await c.req.json(),
      idempotencyKey: c.req.valid("header")["idempotency-key"],
      requestId: c.get("requestId"),
      traceparent: validTraceparent(c.req.header("traceparent")),
    });
    if (outcome instanceof ProblemError) throw outcome;
    if (outcome.replayed) c.header("Idempotent-Replayed", "true");
    c.header("Location", `/orders/${outcome.order.id}`);
    return c.json(outcome.order, 202);
  });

  app.openapi({ ...createOrderBatchRoute, middleware: [jsonBody(MAX_BATCH_BYTES)] }, async (c) => {
    if (c.get("draining")) throw unavailable("the service is shutting down");
    const { orders } = c.req.valid("json");
    const batchKey = c.req.valid("header")["idempotency-key"];
    const requestId = c.get("requestId");
    const traceparent = validTraceparent(c.req.header("traceparent"));
    // All at once: their Redis scripts and publishes leave together, pipelined.
    const items = await Promise.all(
      orders.map(async (rawBody, index) => {
        const order = checkBatchOrder(rawBody);
        if (order instanceof ProblemError) return { status: order.status, problem: order.body() };
        // Each order has a key of its own under the batch's: a repeat replays it as it went.
        const idempotencyKey = batchKey === undefined ? undefined : `${batchKey}\u0000${index}`;
        const outcome = await acceptOne(intake, c.get("log"), {
          order,
          rawBody,
          idempotencyKey,
          requestId,
          traceparent,
        });
        if (outcome instanceof ProblemError) return { status: outcome.status, problem: outcome.body() };
        return { status: 202 as const, order: outcome.order, ...(outcome.replayed ? { replayed: true } : {}) };
      }),
    );
    return c.json({ items }, 200);
  });

  app.openapi(cancelOrderRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!isOrderId(id)) throw new ProblemError(404, "no order with this id");
    let outcome: Awaited<ReturnType<OrderCancellation["cancel"]>>;
    try {
      const headers: Record<string, string> = { "x-request-id": c.get("requestId"), "x-order-id": id };
      outcome = await cancellation.cancel(id, headers);
    } catch (error) {
      c.get("log").error({ err: error }, "order cancel failed");
      throw unavailable("the order store is unavailable");
    }
    if (outcome.kind === "unknown") throw new ProblemError(404, "no order with this id");
    if (outcome.kind === "conflict") throw new ProblemError(409, `the order already ended ${outcome.status}`);
    return c.json(outcome.order, 202);
  });

  app.openapi(getOrderRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!isOrderId(id)) throw new ProblemError(404, "no order with this id");
    let order: Awaited<ReturnType<OrderStore["get"]>>;
    try {
      order = await store.get(id);
    } catch (error) {
      c.get("log").error({ err: error }, "order lookup failed");
      throw unavailable("the order store is unavailable");
    }
    if (!order) throw new ProblemError(404, "no order with this id");
    return c.json(order, 200);
  });
}

/** An order's answer: accepted (or replayed), or the problem POST /orders would answer. */
async function acceptOne(
  intake: OrderIntake,
  log: Logger,
  request: IntakeRequest,
): Promise<{ order: OrderResource; replayed: boolean } | ProblemError> {
  let result: IntakeResult;
  try {
    result = await intake.accept(request);
  } catch (error) {
    log.error({ err: error }, "order intake failed");
    return unavailable("the order store is unavailable");
  }
  switch (result.kind) {
    case "key_mismatch":
      return new ProblemError(422, "this Idempotency-Key was already used with a different request body");
    case "key_in_flight":
      return new ProblemError(409, "a request with this Idempotency-Key is still being processed", {
        headers: { "Retry-After": IN_FLIGHT_RETRY_AFTER_SECONDS },
      });
    case "unavailable":
      return unavailable(`the broker did not take the order (${result.reason}); nothing was accepted`);
    case "replayed":
      return { order: result.order, replayed: true };
    case "accepted":
      return { order: result.order, replayed: false };
  }
}

/** One order of a batch, checked as POST /orders checks its body: 413 or 422 when it would be refused. */
function checkBatchOrder(rawBody: unknown): CreateOrder | ProblemError {
  if (JSON.stringify(rawBody).length > MAX_ORDER_BYTES) {
    return new ProblemError(413, `the order must not exceed ${MAX_ORDER_BYTES} bytes`);
  }
  const parsed = createOrderSchema.safeParse(rawBody);
  if (!parsed.success) {
    return new ProblemError(422, "the request failed validation", { errors: fieldErrors(parsed.error.issues) });
  }
  return parsed.data;
}
