import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { DEAD_LETTER_REASONS } from "../../runtime/dead-letter-reason";
import { type DeadLetters, deadLetterView, ReplayError } from "../../runtime/dead-letters";
import type { AppEnv } from "../app-env";
import { problemResponse as problem } from "../documented-responses";
import { unavailable } from "../orders/orders.handlers";
import { ProblemError } from "../problem";
import { bearerToken } from "./bearer-token";

const deadLetterSchema = z
  .object({
    id: z.string(),
    orderId: z.string().nullable(),
    messageId: z.string(),
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
const noSuchDeadLetter = problem("No such dead letter");
const brokerUnavailable = problem("The broker did not confirm the replay; retry after Retry-After seconds", {
  retryAfter: true,
});

const listRoute = createRoute({
  method: "get",
  path: "/admin/dead-letters",
  operationId: "listDeadLetters",
  summary: "List dead letters",
  security,
  responses: {
    200: {
      description: "Dead letters, oldest first",
      content: { "application/json": { schema: z.object({ items: z.array(deadLetterSchema) }) } },
    },
    ...authFailure,
  },
});
const replayOneRoute = createRoute({
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
const replayAllRoute = createRoute({
  method: "post",
  path: "/admin/dead-letters/replay",
  operationId: "replayDeadLetters",
  summary: "Replay every dead letter",
  security,
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
    503: problem("None could be replayed (`detail` says why); retry after Retry-After seconds", { retryAfter: true }),
    ...authFailure,
  },
});
const deleteRoute = createRoute({
  method: "delete",
  path: "/admin/dead-letters/{id}",
  operationId: "deleteDeadLetter",
  summary: "Delete a dead letter",
  security,
  request: { params: idParam },
  responses: { 204: { description: "Deleted" }, 404: noSuchDeadLetter, ...authFailure },
});

/** The dead-letter admin API; the CLI calls the same `DeadLetters`. */
export function registerAdminRoutes(
  app: OpenAPIHono<AppEnv>,
  deadLetters: DeadLetters,
  adminToken: string | undefined,
): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });
  app.use("/admin/*", bearerToken(adminToken));

  app.openapi(listRoute, async (c) => {
    const items = await deadLetters.list();
    return c.json(
      {
        items: items.map(deadLetterView),
      },
      200,
    );
  });

  app.openapi(replayAllRoute, async (c) => {
    const { replayed, failed } = await deadLetters.replayAll();
    if (replayed === 0 && failed.length > 0) {
      throw unavailable(`no dead letter could be replayed (${failed.length} failed; first: ${failed[0]!.detail})`);
    }
    return c.json(failed.length > 0 ? { replayed, failed } : { replayed }, 202);
  });

  app.openapi(replayOneRoute, async (c) => {
    const { id } = c.req.valid("param");
    const replayed = await withReplayErrors(() => deadLetters.replay(id));
    if (!replayed) throw new ProblemError(404, "no dead letter with this id");
    return c.body(null, 202);
  });

  app.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await deadLetters.get(id))) throw new ProblemError(404, "no dead letter with this id");
    await deadLetters.remove(id);
    return c.body(null, 204);
  });
}

async function withReplayErrors<T>(replay: () => Promise<T>): Promise<T> {
  try {
    return await replay();
  } catch (error) {
    if (error instanceof ReplayError) throw unavailable(error.message);
    throw error;
  }
}
