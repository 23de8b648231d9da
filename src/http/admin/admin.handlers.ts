import type { OpenAPIHono } from "@hono/zod-openapi";
import { type DeadLetters, deadLetterView, ReplayError } from "../../runtime/dead-letters";
import type { QueueView } from "../../runtime/queue-overview";
import { InvalidCursorError } from "../../store/invalid-cursor";
import type { OrderListing } from "../../store/order-listing";
import type { AppEnv } from "../app-env";
import { unavailable } from "../orders/orders.handlers";
import { ProblemError } from "../problem";
import {
  deleteDeadLetterRoute,
  listDeadLettersRoute,
  listOrdersRoute,
  listQueuesRoute,
  replayDeadLetterRoute,
  replayDeadLettersRoute,
} from "./admin.routes";
import { bearerToken } from "./bearer-token";

export interface AdminRoutesOptions {
  deadLetters: DeadLetters;
  orders: OrderListing;
  queues: () => Promise<QueueView[]>;
  adminToken: string | undefined;
}

/** The admin API behind the bearer token; the CLI and the console call the same objects. */
export function registerAdminRoutes(app: OpenAPIHono<AppEnv>, options: AdminRoutesOptions): void {
  const { deadLetters, orders, queues } = options;
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });
  app.use("/admin/*", bearerToken(options.adminToken));

  app.openapi(listDeadLettersRoute, async (c) => {
    const page = await withCursor(() => deadLetters.page(c.req.valid("query")));
    return c.json({ items: page.items.map(deadLetterView), ...nextCursor(page) }, 200);
  });

  app.openapi(replayDeadLettersRoute, async (c) => {
    // The body is optional: without one (no Content-Type), every dead letter is replayed.
    const { replayed, failed } = await deadLetters.replayAll(c.req.valid("json") ?? {});
    if (replayed === 0 && failed.length > 0) {
      throw unavailable(`no dead letter could be replayed (${failed.length} failed; first: ${failed[0]!.detail})`);
    }
    return c.json(failed.length > 0 ? { replayed, failed } : { replayed }, 202);
  });

  app.openapi(replayDeadLetterRoute, async (c) => {
    const { id } = c.req.valid("param");
    const replayed = await withReplayErrors(() => deadLetters.replay(id));
    if (!replayed) throw new ProblemError(404, "no dead letter with this id");
    return c.body(null, 202);
  });

  app.openapi(deleteDeadLetterRoute, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await deadLetters.get(id))) throw new ProblemError(404, "no dead letter with this id");
    await deadLetters.remove(id);
    return c.body(null, 204);
  });

  app.openapi(listOrdersRoute, async (c) => {
    const page = await withCursor(() => orders.list(c.req.valid("query")));
    return c.json({ items: page.items, ...nextCursor(page) }, 200);
  });

  app.openapi(listQueuesRoute, async (c) => c.json({ items: await queues() }, 200));
}

const nextCursor = (page: { nextCursor?: string }) => (page.nextCursor ? { nextCursor: page.nextCursor } : {});

async function withCursor<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof InvalidCursorError)
      throw new ProblemError(400, "invalid query parameter", {
        errors: [{ path: "cursor", message: "is not a cursor this listing gave out" }],
      });
    throw error;
  }
}

async function withReplayErrors<T>(replay: () => Promise<T>): Promise<T> {
  try {
    return await replay();
  } catch (error) {
    if (error instanceof ReplayError) throw unavailable(error.message);
    throw error;
  }
}
