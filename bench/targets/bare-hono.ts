/** Ceiling for HTTP on Bun: a bare Hono route. Env: PORT. */
import { Hono } from "hono";

const app = new Hono();
app.get("/healthz", (c) => c.text("ok"));
app.get("/hello", (c) => c.text("hello"));
Bun.serve({ port: Number(process.env.PORT), fetch: app.fetch });
