import { OpenAPIHono } from "@hono/zod-openapi";
import { Scalar } from "@scalar/hono-api-reference";
import { requestId } from "hono/request-id";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { allowedMethods } from "./allowed-methods";
import { API_REFERENCE_SCRIPT, serveApiReferenceScript } from "./api-reference-assets";
import type { AppEnv } from "./app-env";
import { fieldErrors, noRoute, ProblemError, problem } from "./problem";
import { validTraceparent } from "./traceparent";

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean>;
}

export interface AppOptions {
  log: Logger;
  metrics: Metrics;
  /** Resolves within the readiness deadline (the checks give up on a stalled broker or Redis). */
  readiness: () => Promise<Readiness>;
  isDraining: () => boolean;
}

/**
 * The Hono app shared by production and tests: request ids, one log line and metrics per
 * request, problem+json for every error, and the probes every role serves.
 */
export function createApp(options: AppOptions): OpenAPIHono<AppEnv> {
  const { log, metrics } = options;
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (result.success) return;
      if (result.target === "header") {
        throw new ProblemError(400, "invalid request header", { errors: fieldErrors(result.error.issues, "headers") });
      }
      const status = result.target === "json" ? 422 : 400;
      throw new ProblemError(status, "the request failed validation", { errors: fieldErrors(result.error.issues) });
    },
  });

  app.use(requestId({ limitLength: 128, generator: () => Bun.randomUUIDv7() }));
  app.use(async (c, next) => {
    const started = performance.now();
    // The same fields the handler's log lines carry, so one query finds a request end to end.
    const requestLog = log.child({
      requestId: c.get("requestId"),
      traceparent: validTraceparent(c.req.header("traceparent")),
    });
    c.set("log", requestLog);
    c.set("draining", options.isDraining());
    await next();
    // Shutting down: ask keep-alive clients to reconnect (elsewhere) for their next request.
    if (options.isDraining()) c.header("Connection", "close");
    const route = c.req.routePath === "/*" ? "unmatched" : c.req.routePath;
    const seconds = (performance.now() - started) / 1000;
    const labels = { method: c.req.method, route, status: String(c.res.status) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe({ method: c.req.method, route }, seconds);
    // The connection went before the answer could be written: the request's effects happened
    // (an order may be accepted) but the client does not know. The server closes a connection
    // on which a request is pipelined behind one still being answered.
    const unsent = c.req.raw.signal.aborted;
    if (unsent) metrics.httpResponsesUnsent.inc(labels);
    requestLog.info(
      {
        method: c.req.method,
        path: c.req.path,
        route,
        status: c.res.status,
        durationMs: Math.round(seconds * 10000) / 10,
        ...(unsent ? { unsent: true } : {}),
      },
      "request",
    );
  });

  app.onError((error, c) => {
    if (error instanceof ProblemError) return problem(c, error);
    // Hono, its middleware and Bun's body reading throw errors carrying a 4xx status for the
    // client's mistakes (415, 413, 400…): that answer, as problem+json.
    const status = (error as { status?: unknown }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      return problem(c, new ProblemError(status as ContentfulStatusCode, error.message));
    }
    c.get("log")?.error({ err: error }, "unhandled error");
    return problem(c, new ProblemError(500, "an unexpected error occurred"));
  });
  const methodsAt = allowedMethods(app);
  app.notFound((c) => {
    const allowed = methodsAt(c.req.path);
    if (allowed.length > 0) {
      return problem(
        c,
        new ProblemError(405, `${c.req.path} does not take ${c.req.method}`, {
          headers: { Allow: allowed.join(", ") },
        }),
      );
    }
    return problem(c, noRoute(c));
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const readiness = await options.readiness();
    return c.json(
      { status: readiness.ready ? "ready" : "not ready", checks: readiness.checks },
      readiness.ready ? 200 : 503,
    );
  });
  app.get("/metrics", async (c) => {
    c.header("Content-Type", metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });
  documentProbes(app);
  return app;
}

/** The probes are plain routes (no validation): listed in /openapi.json by hand. */
function documentProbes(app: OpenAPIHono<AppEnv>): void {
  const probe = (path: string, operationId: string, summary: string, responses: Record<number, string>) =>
    app.openAPIRegistry.registerPath({
      method: "get",
      path,
      operationId,
      summary,
      tags: ["probes"],
      // Public: probes answer without the admin token.
      security: [],
      responses: Object.fromEntries(
        Object.entries(responses).map(([status, description]) => [status, { description }]),
      ),
    });
  probe("/healthz", "liveness", "Liveness: the process runs", { 200: "Running" });
  probe("/readyz", "readiness", "Readiness: broker and Redis usable, not shutting down", {
    200: "Ready",
    503: "Not ready (the body says which check failed)",
  });
  probe("/metrics", "metrics", "Prometheus metrics", { 200: "Prometheus text format" });
}

/** /openapi.json from the same zod schemas that validate requests, and /docs to read it. */
export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Order pipeline",
      version: "0.1.0",
      description: "HTTP order intake; orders are processed asynchronously by handlers over RabbitMQ.",
    },
    // The service's own origin, wherever it is deployed.
    servers: [{ url: "/" }],
  });
  app.get(API_REFERENCE_SCRIPT, () => serveApiReferenceScript());
  // Everything the page loads comes from the service: the script above, no web fonts, no telemetry.
  app.get(
    "/docs",
    Scalar({
      url: "/openapi.json",
      pageTitle: "Order pipeline API",
      cdn: API_REFERENCE_SCRIPT,
      withDefaultFonts: false,
      telemetry: false,
    }),
  );
}
