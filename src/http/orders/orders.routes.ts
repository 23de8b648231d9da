import { createRoute, z } from "@hono/zod-openapi";
import { createOrderSchema, orderResourceSchema } from "../../domain/order";
import { validatesSynchronously } from "../validates-synchronously";

const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: problemSchema } },
});

/** 1–255 printable ASCII characters (IETF httpapi-idempotency-key draft). */
export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x20-\x7e]{1,255}$/, "must be 1-255 printable ASCII characters");

export const createOrderRoute = createRoute({
  method: "post",
  path: "/orders",
  summary: "Accept an order",
  description:
    "Answers 202 only after the broker confirmed the persistent message and routed it to a queue. " +
    "With an Idempotency-Key, a repeat with the same body replays the first answer.",
  request: {
    headers: validatesSynchronously(
      z.object({
        "idempotency-key": idempotencyKeySchema.optional().openapi({ param: { in: "header", description: "Idempotency-Key (case-insensitive, as every header): same key + same body replays the first answer for 24 h" } }),
      }),
    ),
    body: { required: true, content: { "application/json": { schema: validatesSynchronously(createOrderSchema) } } },
  },
  responses: {
    202: {
      description: "Accepted: the order is queued",
      headers: z.object({
        Location: z.string(),
        "Idempotent-Replayed": z.string().optional(),
      }),
      content: { "application/json": { schema: orderResourceSchema } },
    },
    400: problem("Malformed JSON or a bad Idempotency-Key header"),
    409: problem("A request with this Idempotency-Key is still in flight"),
    413: problem("Body larger than 64 KiB"),
    415: problem("Body is not application/json"),
    422: problem("Validation failed, or the Idempotency-Key was used with another body"),
    503: problem("The broker or Redis cannot take the order now; retry after Retry-After seconds"),
  },
});

export const getOrderRoute = createRoute({
  method: "get",
  path: "/orders/{id}",
  summary: "Read an order and its history",
  request: {
    params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }),
  },
  responses: {
    200: { description: "The order", content: { "application/json": { schema: orderResourceSchema } } },
    404: problem("No such order"),
    503: problem("Redis is unavailable"),
  },
});
