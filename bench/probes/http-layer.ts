/**
 * What the intake's HTTP layer costs per request, without Redis or the broker: the server's CPU
 * time per 202 under wrk at 64 connections for
 *   get        — a bare Hono GET (the ceiling);
 *   raw-post   — Bun.serve alone: read the JSON body, answer 202 with the order resource;
 *   hono-post  — the same as a Hono route;
 *   hono-zod   — the same, validating the body with the service's zod schema;
 *   app-nolog  — the service's own app (request ids, metrics, problem+json, the OpenAPI route's
 *                header and body validation) with an intake that accepts at once, LOG_LEVEL=warn;
 *   app        — the same with the request's log line (LOG_LEVEL=info, as in production).
 * Usage: bun bench/probes/http-layer.ts [--reps 2]
 * (needs wrk; the servers' logs go to a temporary directory, removed afterwards)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Hono } from "hono";
import { type CreateOrder, createOrderSchema } from "../../src/domain/order";
import { createApp } from "../../src/http/create-app";
import { registerOrderRoutes } from "../../src/http/orders/orders.handlers";
import type { OrderIntake } from "../../src/intake/order-intake";
import { createLogger } from "../../src/log";
import { createMetrics } from "../../src/metrics";
import { acceptedResource, OrderStore } from "../../src/store/order-store";
import { cpuSeconds } from "../lib/cpu-meter";
import { freePort, startTarget } from "../lib/process";
import { median } from "../lib/stats";
import { runWrk } from "../lib/wrk";

const VARIANTS = ["get", "raw-post", "hono-post", "hono-zod", "app-nolog", "app"] as const;
type Variant = (typeof VARIANTS)[number];

const variant = process.env.HTTP_LAYER_VARIANT as Variant | undefined;
if (variant) serve(variant);
else await measure();

function accepted(order: CreateOrder) {
  return acceptedResource(Bun.randomUUIDv7(), OrderStore.document(order), new Date().toISOString());
}

/** The server side: one variant on PORT until SIGTERM. */
function serve(which: Variant): void {
  let fetch: (request: Request) => Response | Promise<Response>;
  if (which === "raw-post") {
    fetch = async (request) => Response.json(accepted((await request.json()) as CreateOrder), { status: 202 });
  } else if (which.startsWith("app")) {
    const app = createApp({
      log: createLogger(which === "app" ? "info" : "warn"),
      metrics: createMetrics(),
      readiness: async () => ({ ready: true, checks: {} }),
      isDraining: () => false,
    });
    const intake = {
      accept: async ({ order }: { order: CreateOrder }) => ({ kind: "accepted", order: accepted(order) }),
    };
    registerOrderRoutes(app, {
      intake: intake as unknown as OrderIntake,
      store: {} as never,
      cancellation: {} as never,
    });
    fetch = app.fetch;
  } else {
    const app = new Hono();
    app.get("/orders", (c) => c.text("hello"));
    app.post("/orders", async (c) => {
      const body = await c.req.json();
      const order = which === "hono-zod" ? createOrderSchema.parse(body) : (body as CreateOrder);
      c.header("Location", "/orders/x");
      return c.json(accepted(order), 202);
    });
    fetch = app.fetch;
  }
  // The readiness probe as a static route, outside the measured fetch path.
  Bun.serve({ port: Number(process.env.PORT), routes: { "/healthz": new Response("ok") }, fetch });
}

/** The measuring side: the variants' server CPU per request, medians over repetitions. */
async function measure(): Promise<void> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { reps: { type: "string", default: "2" } } });
  const reps = Number(values.reps);
  const usPerRequest = new Map<Variant, number[]>(VARIANTS.map((name) => [name, []]));
  const reqPerSec = new Map<Variant, number[]>(VARIANTS.map((name) => [name, []]));
  const logDir = mkdtempSync(join(tmpdir(), "http-layer-"));
  try {
    await measureVariants(reps, logDir, usPerRequest, reqPerSec);
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
  console.log(`\nserver CPU per request, medians of ${reps} repetitions (wrk, 64 connections):`);
  for (const name of VARIANTS) {
    console.log(
      `  ${name.padEnd(10)} ${median(usPerRequest.get(name)!).toFixed(1).padStart(6)} µs   ` +
        `${Math.round(median(reqPerSec.get(name)!))} req/s`,
    );
  }
}

/** Every variant in its own process, in interleaved repetitions, into `usPerRequest` and `reqPerSec`. */
async function measureVariants(
  reps: number,
  logDir: string,
  usPerRequest: Map<Variant, number[]>,
  reqPerSec: Map<Variant, number[]>,
): Promise<void> {
  for (let rep = 1; rep <= reps; rep++) {
    for (const name of VARIANTS) {
      const port = freePort();
      const server = await startTarget({
        name,
        cmd: ["bun", import.meta.path],
        env: { HTTP_LAYER_VARIANT: name, PORT: String(port) },
        port,
        logFile: join(logDir, `${name}.log`),
      });
      try {
        const method = name === "get" ? "GET" : "POST";
        const okStatus = name === "get" ? 200 : 202;
        const url = `http://127.0.0.1:${port}/orders`;
        await runWrk({ url, connections: 64, durationSec: 3, method, okStatus });
        const before = cpuSeconds(server.pid)!;
        const run = await runWrk({ url, connections: 64, durationSec: 6, method, okStatus });
        const us = (((cpuSeconds(server.pid) ?? NaN) - before) * 1e6) / run.ok;
        usPerRequest.get(name)!.push(us);
        reqPerSec.get(name)!.push(run.okPerSec);
        console.error(
          `[http-layer] rep ${rep}/${reps} ${name}: ` +
            `${Math.round(run.okPerSec)} req/s, server ${us.toFixed(1)} µs/request`,
        );
      } finally {
        await server.stop();
      }
    }
  }
}
