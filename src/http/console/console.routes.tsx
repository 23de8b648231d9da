import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import type { JSX } from "hono/jsx/jsx-runtime";
import type { Topology } from "../../broker/topology";
import { isOrderId, ORDER_STATUSES, type OrderStatus } from "../../domain/order";
import type { OrderCancellation } from "../../intake/order-cancellation";
import { DEAD_LETTER_REASONS, type DeadLetterReason } from "../../runtime/dead-letter-reason";
import type { DeadLetters } from "../../runtime/dead-letters";
import type { QueueView } from "../../runtime/queue-overview";
import type { ActivityStore } from "../../store/activity";
import type { OrderListing } from "../../store/order-listing";
import type { OrderStore } from "../../store/order-store";
import type { AppEnv } from "../app-env";
import type { Readiness } from "../create-app";
import { noRoute, ProblemError } from "../problem";
import { CONSOLE_SCRIPT, CONSOLE_STYLE } from "./assets";
import { type DeadLetterFilterView, DeadLettersPage, filterQuery, ReplayAllConfirmation } from "./pages/dead-letters";
import { OrderPage, OrdersPage } from "./pages/orders";
import { type OverviewData, OverviewPage, OverviewPanel } from "./pages/overview";
import { SignInPage } from "./pages/sign-in";
import { TopologyPage } from "./pages/topology";
import { ConsoleSessions, SESSION_COOKIE, SESSION_MS } from "./session";

export interface ConsoleOptions {
  adminToken: string | undefined;
  readiness: () => Promise<Readiness>;
  queues: () => Promise<QueueView[]>;
  activity: ActivityStore;
  orders: OrderListing;
  orderStore: OrderStore;
  cancellation: OrderCancellation;
  deadLetters: DeadLetters;
  topology: Topology;
}

const DEAD_LETTERS_SHOWN = 200;

/**
 * The operators' console at /console: server-rendered pages (hono/jsx) behind a sign-in with
 * the admin token, their forms posting back here (same origin only), and a small script of the
 * service's own that keeps the Overview live. Absent (404) while ADMIN_TOKEN is unset.
 */
export function registerConsoleRoutes(app: OpenAPIHono<AppEnv>, options: ConsoleOptions): void {
  const { adminToken, topology, deadLetters, orders, orderStore, cancellation } = options;
  const sessions = adminToken ? new ConsoleSessions(adminToken) : undefined;
  const subscriptions = topology.handlerSubscriptions.map((plan) => plan.name);

  app.use("/console", absentWithoutToken(sessions));
  app.use("/console/*", absentWithoutToken(sessions));
  // Forms post from the console's own pages only: a POST from another origin is refused.
  app.use("/console/*", csrf());
  app.get("/console/assets/console.js", (c) => asset(c, CONSOLE_SCRIPT, "text/javascript"));
  app.get("/console/assets/console.css", (c) => asset(c, CONSOLE_STYLE, "text/css"));

  app.get("/console", (c) =>
    sessions!.isValid(getCookie(c, SESSION_COOKIE)) ? c.redirect("/console/overview", 303) : page(c, <SignInPage />),
  );
  app.post("/console/sign-in", async (c) => {
    const form = await c.req.parseBody();
    if (typeof form.token !== "string" || !sessions!.isToken(form.token)) {
      return page(c, <SignInPage error="That is not the admin token." />, 401);
    }
    setCookie(c, SESSION_COOKIE, sessions!.issue(), {
      httpOnly: true,
      sameSite: "Strict",
      path: "/console",
      secure: new URL(c.req.url).protocol === "https:",
      maxAge: SESSION_MS / 1000,
    });
    return c.redirect("/console/overview", 303);
  });
  app.post("/console/sign-out", (c) => {
    deleteCookie(c, SESSION_COOKIE, { path: "/console" });
    return c.redirect("/console", 303);
  });

  const signedIn = requireSession(sessions);
  const overview = async (): Promise<OverviewData> => {
    const [readiness, queues, outcomes] = await Promise.all([
      options.readiness(),
      options.queues(),
      options.activity.outcomes(),
    ]);
    return { readiness, queues, outcomes, subscriptions };
  };
  app.get("/console/overview", signedIn, async (c) => page(c, <OverviewPage {...(await overview())} />));
  app.get("/console/overview/live", signedIn, async (c) =>
    c.html((<OverviewPanel {...(await overview())} />).toString()),
  );

  app.get("/console/orders", signedIn, async (c) => {
    const search = c.req.query("q")?.trim() || undefined;
    if (search && isOrderId(search)) return c.redirect(`/console/orders/${search}`, 303);
    const status = oneOf(ORDER_STATUSES, c.req.query("status")) as OrderStatus | undefined;
    const cursor = c.req.query("cursor");
    const listed = await orders.list({
      limit: 50,
      ...(status ? { status } : {}),
      ...(search ? { customerId: search.slice(0, 64) } : {}),
      ...(cursor && isOrderId(cursor) ? { cursor } : {}),
    });
    return page(c, <OrdersPage {...listed} status={status} search={search} notice={c.req.query("notice")} />);
  });
  app.get("/console/orders/:id", signedIn, async (c) => {
    const id = c.req.param("id");
    const order = isOrderId(id) ? await orderStore.get(id) : undefined;
    if (!order) return page(c, <OrdersPage items={[]} search={id} notice={`No order with id ${id}.`} />, 404);
    return page(c, <OrderPage order={order} notice={c.req.query("notice")} />);
  });
  app.post("/console/orders/:id/cancel", signedIn, async (c) => {
    const id = c.req.param("id");
    if (!isOrderId(id)) throw new ProblemError(404, "no order with this id");
    const outcome = await cancellation.cancel(id, { "x-request-id": c.get("requestId"), "x-order-id": id });
    const notice =
      outcome.kind === "accepted"
        ? outcome.order.status === "cancelled"
          ? "Cancelled."
          : "Cancel requested: the running handler has been told to stop."
        : outcome.kind === "conflict"
          ? `Not cancelled: the order already ended ${outcome.status}.`
          : "No such order.";
    return c.redirect(`/console/orders/${id}?notice=${encodeURIComponent(notice)}`, 303);
  });

  app.get("/console/dead-letters", signedIn, async (c) => {
    const filter = deadLetterFilter(c.req.query());
    const listed = await deadLetters.page({ ...filter, limit: DEAD_LETTERS_SHOWN });
    return page(
      c,
      <DeadLettersPage
        items={listed.items}
        filter={filter}
        subscriptions={subscriptions}
        notice={c.req.query("notice")}
        more={listed.nextCursor !== undefined}
      />,
    );
  });
  app.get("/console/dead-letters/replay-all", signedIn, async (c) => {
    const filter = deadLetterFilter(c.req.query());
    const count = (await deadLetters.page({ ...filter, limit: 100_000 })).items.length;
    return page(c, <ReplayAllConfirmation count={count} filter={filter} />);
  });
  app.post("/console/dead-letters/replay-all", signedIn, async (c) => {
    const filter = deadLetterFilter(await formFields(c));
    const { replayed, failed } = await deadLetters.replayAll(filter);
    const stayed = failed.length > 0 ? ` ${failed.length} could not go: ${failed[0]!.detail}` : "";
    const notice = `Replayed ${replayed}.${stayed}`;
    return backToDeadLetters(c, filter, notice);
  });
  app.post("/console/dead-letters/:id/replay", signedIn, async (c) => {
    const filter = deadLetterFilter(await formFields(c));
    let notice: string;
    try {
      notice = (await deadLetters.replay(c.req.param("id"))) ? "Replayed." : "No such dead letter.";
    } catch (error) {
      notice = `Not replayed: ${(error as Error).message}`;
    }
    return backToDeadLetters(c, filter, notice);
  });
  app.post("/console/dead-letters/:id/delete", signedIn, async (c) => {
    const filter = deadLetterFilter(await formFields(c));
    const removed = await deadLetters.remove(c.req.param("id"));
    return backToDeadLetters(c, filter, removed ? "Deleted." : "No such dead letter.");
  });

  app.get("/console/topology", signedIn, (c) => page(c, <TopologyPage topology={topology} />));
}

function absentWithoutToken(sessions: ConsoleSessions | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (!sessions) throw noRoute(c);
    await next();
  };
}

/** Pages need a sign-in: without one, a page sends the browser to the sign-in form; an action is refused. */
function requireSession(sessions: ConsoleSessions | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (sessions?.isValid(getCookie(c, SESSION_COOKIE))) return next();
    if (c.req.method === "GET") return c.redirect("/console", 303);
    return page(c, <SignInPage error="Sign in first." />, 401);
  };
}

function page(c: Context, element: JSX.Element, status: 200 | 401 | 404 = 200): Response | Promise<Response> {
  c.header("Cache-Control", "no-store");
  return c.html(`<!doctype html>${element.toString()}`, status);
}

function asset(c: Context, body: string, type: string): Response {
  c.header("Content-Type", `${type}; charset=utf-8`);
  c.header("Cache-Control", "no-cache");
  return c.body(body);
}

function oneOf<T extends string>(values: readonly T[], value: string | undefined): T | undefined {
  return values.includes(value as T) ? (value as T) : undefined;
}

function deadLetterFilter(fields: Record<string, unknown>): DeadLetterFilterView & { reason?: DeadLetterReason } {
  const reason = oneOf(DEAD_LETTER_REASONS, typeof fields.reason === "string" ? fields.reason : undefined);
  const subscription =
    typeof fields.subscription === "string" && fields.subscription ? fields.subscription.slice(0, 200) : undefined;
  return { ...(reason ? { reason } : {}), ...(subscription ? { subscription } : {}) };
}

async function formFields(c: Context): Promise<Record<string, unknown>> {
  return (await c.req.parseBody()) as Record<string, unknown>;
}

function backToDeadLetters(c: Context, filter: DeadLetterFilterView, notice: string): Response {
  const query = filterQuery(filter);
  const separator = query ? "&" : "?";
  return c.redirect(`/console/dead-letters${query}${separator}notice=${encodeURIComponent(notice)}`, 303);
}
