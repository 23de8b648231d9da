import { createRoute, z } from "@hono/zod-openapi";
import { createOrderSchema, orderResourceSchema } from "../../domain/order";
import { problemResponse as problem, problemSchema, responseHeaders } from "../documented-responses";
import { validatesSynchronously } from "../validates-synchronously";

/** 1–255 printable ASCII characters (IETF httpapi-idempotency-key draft). */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x20-\x7e]{1,255}$/, "must be 1-255 printable ASCII characters");

/** The `{id}` of /orders/{id}/…: checked with isOrderId by the handlers (a bad one is a 404). */
const orderIdParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });

export const createOrderRoute = createRoute({
  method: "post",
  path: "/orders",
  operationId: "createOrder",
  summary: "Accept an order",
  security: [],
  description:
    "Answers 202 only after the broker confirmed the persistent message and routed it to a queue. " +
    "With an Idempotency-Key, a repeat with the same body replays the first answer.",
  request: {
    headers: validatesSynchronously(
      z.object({
        "idempotency-key": idempotencyKeySchema.optional().openapi({
          param: {
            in: "header",
            description:
              "Same key + same body replays the first answer for 24 h; the key is compared exactly (case-sensitive)",
          },
        }),
      }),
    ),
    body: { required: true, content: { "application/json": { schema: validatesSynchronously(createOrderSchema) } } },
  },
  responses: {
    202: {
      description: "Accepted: the order is queued",
      headers: responseHeaders({ extra: { Location: z.string(), "Idempotent-Replayed": z.string().optional() } }),
      content: { "application/json": { schema: orderResourceSchema } },
    },
    400: problem("Malformed JSON or a bad Idempotency-Key header"),
    409: problem("A request with this Idempotency-Key is still in flight; retry after Retry-After seconds", {
      retryAfter: true,
    }),
    413: problem("Body larger than 64 KiB"),
    415: problem("Body is not application/json"),
    422: problem("Validation failed, or the Idempotency-Key was used with another body"),
    503: problem("The broker or Redis cannot take the order now; retry after Retry-After seconds", {
      retryAfter: true,
    }),
  },
});

export const getOrderRoute = createRoute({
  method: "get",
  path: "/orders/{id}",
  operationId: "getOrder",
  summary: "Read an order and its history",
  security: [],
  request: {
    params: orderIdParam,
  },
  responses: {
    200: {
      description: "The order",
      headers: responseHeaders(),
      content: { "application/json": { schema: orderResourceSchema } },
    },
    404: problem("No such order"),
    503: problem("Redis is unavailable", { retryAfter: true }),
  },
});

/** At most this many orders in one batch (like SQS's SendMessageBatch, a bounded unit of work). */
export const MAX_BATCH_ORDERS = 100;

const batchItemSchema = z
  .union([
    z.object({ status: z.literal(202), order: orderResourceSchema, replayed: z.boolean().optional() }),
    z.object({ status: z.number().int(), problem: problemSchema }),
  ])
  .openapi("BatchItem");

export const createOrderBatchRoute = createRoute({
  method: "post",
  path: "/orders/batch",
  operationId: "createOrderBatch",
  summary: "Accept up to 100 orders in one request",
  security: [],
  description:
    "Each order is accepted (confirmed and routed by the broker) or refused on its own, exactly as if " +
    "posted alone to POST /orders; `items` answers them in the same order. With an Idempotency-Key, a " +
    "repeat of the same batch replays each order's first answer.",
  request: {
    headers: validatesSynchronously(
      z.object({
        "idempotency-key": idempotencyKeySchema.optional().openapi({
          param: { in: "header", description: "Same key + same batch replays each order's first answer for 24 h" },
        }),
      }),
    ),
    body: {
      required: true,
      content: {
        "application/json": {
          schema: validatesSynchronously(
            z.strictObject({ orders: z.array(z.unknown()).min(1).max(MAX_BATCH_ORDERS) }).openapi("OrderBatch", {
              description: "1-100 orders, each as POST /orders takes it",
            }),
          ),
        },
      },
    },
  },
  responses: {
    200: {
      description: "One item per order, in the same order: 202 with the order, or the status and problem it got",
      headers: responseHeaders(),
      content: { "application/json": { schema: z.object({ items: z.array(batchItemSchema) }) } },
    },
    400: problem("Malformed JSON or a bad Idempotency-Key header"),
    413: problem("Body larger than 1 MiB"),
    415: problem("Body is not application/json"),
    422: problem("Not an object with 1-100 orders"),
    503: problem("The service is shutting down; retry after Retry-After seconds", { retryAfter: true }),
  },
});

export const cancelOrderRoute = createRoute({
  method: "post",
  path: "/orders/{id}/cancel",
  operationId: "cancelOrder",
  summary: "Cancel an order",
  security: [],
  description:
    "An order no handler is running for becomes `cancelled` at once and is never run again. If a handler " +
    "is running, the answer has `cancelRequested: true`, the handler's `ctx.signal` aborts, and the order " +
    "ends `cancelled` when the handler throws, or `completed` if it returns anyway. Cancelling a cancelled " +
    "order answers 202 again.",
  request: {
    params: orderIdParam,
  },
  responses: {
    202: {
      description: "Cancelled, or cancel requested (`cancelRequested: true`)",
      headers: responseHeaders(),
      content: { "application/json": { schema: orderResourceSchema } },
    },
    404: problem("No such order"),
    409: problem("The order already ended completed, dead-lettered or expired"),
    503: problem("Redis is unavailable", { retryAfter: true }),
  },
});
