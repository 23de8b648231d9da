import type { OpenAPIHono } from "@hono/zod-openapi";
import type { OrderIntake } from "../../intake/order-intake";
import type { OrderStore } from "../../store/order-store";
import type { AppEnv } from "../app-env";
import { jsonBody } from "../middleware/json-body";
import { ProblemError } from "../problem";
import { validTraceparent } from "../traceparent";
import { createOrderRoute, getOrderRoute } from "./orders.routes";

export const MAX_ORDER_BYTES = 64 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Seconds a client should wait before retrying a 503. */
const RETRY_AFTER_SECONDS = "2";
/** Seconds before retrying a key still in flight: the first request usually answers within ms. */
const IN_FLIGHT_RETRY_AFTER_SECONDS = "1";

export function unavailable(detail: string): ProblemError {
  return new ProblemError(503, detail, { headers: { "Retry-After": RETRY_AFTER_SECONDS } });
}

/** POST /orders and GET /orders/{id}: served by the api and all roles. */
export function registerOrderRoutes(app: OpenAPIHono<AppEnv>, intake: OrderIntake, store: OrderStore): void {
  // Before the route's validators: 415, 413 and 400 come before any 422.
  app.openapi({ ...createOrderRoute, middleware: [jsonBody(MAX_ORDER_BYTES)] }, async (c) => {
    if (c.get("draining")) throw unavailable("the service is shutting down");
    const order = c.req.valid("json");
    const idempotencyKey = c.req.valid("header")["idempotency-key"];
    let result: Awaited<ReturnType<OrderIntake["accept"]>>;
    try {
      result = await intake.accept({
        order,
        rawBody: await c.req.json(),
        idempotencyKey,
        requestId: c.get("requestId"),
        traceparent: validTraceparent(c.req.header("traceparent")),
      });
    } catch (error) {
      c.get("log").error({ err: error }, "order intake failed");
      throw unavailable("the order store is unavailable");
    }
    switch (result.kind) {
      case "key_mismatch":
        throw new ProblemError(422, "this Idempotency-Key was already used with a different request body");
      case "key_in_flight":
        throw new ProblemError(409, "a request with this Idempotency-Key is still being processed", {
          headers: { "Retry-After": IN_FLIGHT_RETRY_AFTER_SECONDS },
        });
      case "unavailable":
        throw unavailable(`the broker did not take the order (${result.reason}); nothing was accepted`);
      case "replayed":
        c.header("Idempotent-Replayed", "true");
        break;
      case "accepted":
        break;
    }
    c.header("Location", `/orders/${result.order.id}`);
    return c.json(result.order, 202);
  });

  app.openapi(getOrderRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!UUID.test(id)) throw new ProblemError(404, "no order with this id");
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
