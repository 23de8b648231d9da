import { createRoute, z } from "@hono/zod-openapi";
import { ORDER_STATUSES, orderResourceSchema } from "../../domain/order";
import { DEAD_LETTER_REASONS } from "../../runtime/dead-letter-reason";
import { problemResponse as problem } from "../documented-responses";

/** The admin API's routes as OpenAPI documents them; handlers in admin.handlers.ts. */

const deadLetterSchema = z
  .object({
    id: z.string(),
    orderId: z.string().nullable(),
    messageId: z.string(),
    subscription: z.string(),
    queue: z.string(),
    reason: z.enum(DEAD_LETTER_REASONS),
    attempts: z.number().int(),
    error: z.string(),
    payload: z.unknown(),
    deadLetteredAt: z.string(),
  })
  .openapi("DeadLetter");

const idParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });
const security = [{ bearerAuth: [] }];
const authFailure = { 401: problem("Missing or wrong bearer token") };
const badQuery = { 400: problem("A query parameter is not valid (`errors` names it)") };
const noSuchDeadLetter = problem("No such dead letter");
const brokerUnavailable = problem("The broker did not confirm the replay; retry after Retry-After seconds", {
  retryAfter: true,
});
const limit = (max: number, fallback: number) =>
  z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(fallback)
    .openapi({ param: { in: "query", description: `Page size, 1–${max} (default ${fallback})` } });
const cursor = z
  .string()
  .max(200)
  .optional()
  .openapi({ param: { in: "query", description: "The previous page's `nextCursor`" } });
const reason = z.enum(DEAD_LETTER_REASONS).optional();
const subscription = z.string().max(200).optional();

export const deadLetterFilterSchema = z
  .strictObject({
    reason,
    subscription,
    ids: z.array(z.string().max(64)).max(1000).optional(),
  })
  .openapi("DeadLetterFilter");

export const listDeadLettersRoute = createRoute({
  method: "get",
  path: "/admin/dead-letters",
  operationId: "listDeadLetters",
  summary: "List dead letters, oldest first",
  security,
  request: {
    query: z.object({
      reason: reason.openapi({ param: { in: "query", description: "Only this reason" } }),
      subscription: subscription.openapi({ param: { in: "query", description: "Only this subscription's" } }),
      limit: limit(1000, 100),
      cursor,
    }),
  },
  responses: {
    200: {
      description: "A page of dead letters; `nextCursor` when there may be more",
      content: {
        "application/json": {
          schema: z.object({ items: z.array(deadLetterSchema), nextCursor: z.string().optional() }),
        },
      },
    },
    ...badQuery,
    ...authFailure,
  },
});

export const replayDeadLetterRoute = createRoute({
  method: "post",
  path: "/admin/dead-letters/{id}/replay",
  operationId: "replayDeadLetter",
  summary: "Replay one dead letter to the queue it came from, with fresh attempts",
  security,
  request: { params: idParam },
  responses: {
    202: { description: "Replayed (the broker confirmed it)" },
    404: noSuchDeadLetter,
    503: brokerUnavailable,
    ...authFailure,
  },
});

export const replayDeadLettersRoute = createRoute({
  method: "post",
  path: "/admin/dead-letters/replay",
  operationId: "replayDeadLetters",
  summary: "Replay every dead letter, or those matching the filter in the body",
  security,
  request: {
    body: {
      required: false,
      description: "Replay only the dead letters with this reason, of this subscription, or with these ids",
      content: { "application/json": { schema: deadLetterFilterSchema } },
    },
  },
  responses: {
    202: {
      description:
        "Replayed; `failed` lists the dead letters that could not go and stay (present only when some did not)",
      content: {
        "application/json": {
          schema: z.object({
            replayed: z.number().int(),
            failed: z.array(z.object({ id: z.string(), detail: z.string() })).optional(),
          }),
        },
      },
    },
    422: problem("The filter is not valid (`errors` names the field)"),
    503: problem("None could be replayed (`detail` says why); retry after Retry-After seconds", { retryAfter: true }),
    ...authFailure,
  },
});

export const deleteDeadLetterRoute = createRoute({
  method: "delete",
  path: "/admin/dead-letters/{id}",
  operationId: "deleteDeadLetter",
  summary: "Delete a dead letter",
  security,
  request: { params: idParam },
  responses: { 204: { description: "Deleted" }, 404: noSuchDeadLetter, ...authFailure },
});

export const listOrdersRoute = createRoute({
  method: "get",
  path: "/admin/orders",
  operationId: "listOrders",
  summary: "List orders, newest first",
  description:
    "Reads an index kept as long as the orders (7 days). With `status`, a page reads at most 5,000 orders of " +
    "the index: it can then hold fewer than `limit`, with a `nextCursor` to go on from.",
  security,
  request: {
    query: z.object({
      status: z
        .enum(ORDER_STATUSES)
        .optional()
        .openapi({ param: { in: "query", description: "Only orders with this status" } }),
      customerId: z
        .string()
        .max(64)
        .optional()
        .openapi({ param: { in: "query", description: "Only this customer's orders" } }),
      limit: limit(100, 50),
      cursor,
    }),
  },
  responses: {
    200: {
      description: "A page of orders; `nextCursor` when there may be more",
      content: {
        "application/json": {
          schema: z.object({ items: z.array(orderResourceSchema), nextCursor: z.string().optional() }),
        },
      },
    },
    ...badQuery,
    ...authFailure,
  },
});

export const listQueuesRoute = createRoute({
  method: "get",
  path: "/admin/queues",
  operationId: "listQueues",
  summary: "Every queue of the topology: ready, unacknowledged, consumers",
  description:
    "Ready messages and consumers as the broker answers; unacknowledged: the deliveries the service's " +
    "worker processes hold, as they report them every 5 s. A queue the broker could not be asked about " +
    "has `error` instead of `messagesReady` and `consumers`.",
  security,
  responses: {
    200: {
      description: "The queues",
      content: {
        "application/json": {
          schema: z.object({
            items: z.array(
              z
                .object({
                  name: z.string(),
                  messagesReady: z.number().int().optional(),
                  messagesUnacknowledged: z.number().int(),
                  consumers: z.number().int().optional(),
                  error: z.string().optional(),
                })
                .openapi("Queue"),
            ),
          }),
        },
      },
    },
    ...authFailure,
  },
});
