import { createRoute, z } from "@hono/zod-openapi";
import { createOrderSchema, orderResourceSchema } from "../../domain/order";
import { problemResponse as problem, responseHeaders } from "../documented-responses";
import { validatesSynchronously } from "../validates-synchronously";

/** 1–255 printable ASCII characters (IETF httpapi-idempotency-key draft). */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x20-\x7e]{1,255}$/, "must be 1-255 printable ASCII characters");

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
    params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }),
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
