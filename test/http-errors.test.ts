import { expect, test } from "bun:test";
import { HTTPException } from "hono/http-exception";
import { createApp } from "../src/http/create-app";
import { createLogger } from "../src/log";
import { createMetrics } from "../src/metrics";
import { expectProblem } from "./helpers/service";

function app() {
  return createApp({
    log: createLogger("silent"),
    metrics: createMetrics(),
    readiness: async () => ({ ready: true, checks: {} }),
    isDraining: () => false,
  });
}

test("a client error from Hono or a middleware keeps its status as problem+json; anything else is 500", async () => {
  const served = app();
  served.get("/refused", () => {
    throw new HTTPException(415, { message: "Unsupported Media Type" });
  });
  served.get("/broken", () => {
    throw new Error("a bug");
  });
  const refused = await expectProblem(await served.request("/refused"), 415);
  expect(refused.detail).toBe("Unsupported Media Type");
  const broken = await expectProblem(await served.request("/broken"), 500);
  // The internal message stays in the log, not in the answer.
  expect(broken.detail).toBe("an unexpected error occurred");
});

test("a known path with another method is 405 with Allow; an unknown path is 404", async () => {
  const served = app();
  served.post("/things", (c) => c.body(null, 202));
  served.get("/things/:id", (c) => c.json({ id: c.req.param("id") }));

  const wrongOnItem = await served.request("/things/7", { method: "DELETE" });
  await expectProblem(wrongOnItem, 405);
  expect(wrongOnItem.headers.get("allow")).toBe("GET, HEAD");
  const wrongOnCollection = await served.request("/things");
  await expectProblem(wrongOnCollection, 405);
  expect(wrongOnCollection.headers.get("allow")).toBe("POST");
  expect((await served.request("/healthz", { method: "POST" })).headers.get("allow")).toBe("GET, HEAD");
  await expectProblem(await served.request("/things/7/parts"), 404);
  expect((await served.request("/things/7")).status).toBe(200);
});
