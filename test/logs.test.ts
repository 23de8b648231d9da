import { afterEach, expect, test } from "bun:test";
import { eventually } from "./helpers/eventually";
import { captureLogs, type LogLine } from "./helpers/log-capture";
import { type OrderJson, sampleOrder, startTestService, type TestService, useOrderHandler } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

test("the request id and traceparent sent over HTTP appear in the handler's log lines", async () => {
  const capture = captureLogs();
  service = await startTestService({ transform: useOrderHandler("log-context"), service: { log: capture.log } });
  const requestId = `req-${crypto.randomUUID()}`;
  const response = await service.post(sampleOrder(), { "X-Request-Id": requestId, traceparent: TRACEPARENT });
  expect(response.status).toBe(202);
  expect(response.headers.get("x-request-id")).toBe(requestId);
  const { id: orderId } = (await response.json()) as OrderJson;
  await service.waitForOrder(orderId, (order) => order.status === "completed");
  const lines = await eventually(
    async () => capture.lines(),
    (all) => all.some((line) => line.msg === "message completed" && line.subscription === "process_order"),
  );

  // One line per request, carrying the request id.
  const requestLine = lines.find((line) => line.msg === "request" && line.method === "POST");
  expect(requestLine).toMatchObject({ requestId, traceparent: TRACEPARENT, route: "/orders", status: 202 });
  expect(typeof requestLine?.durationMs).toBe("number");

  // ctx.log and ctx.headers in the handler.
  const handlerLine = lines.find((line) => line.msg === "handler log line");
  expect(handlerLine).toMatchObject({
    requestId,
    traceparent: TRACEPARENT,
    orderId,
    messageId: orderId,
    subscription: "process_order",
    attempt: 1,
    headerTraceparent: TRACEPARENT,
  });

  // One line per message outcome.
  const outcome = lines.find((line) => line.msg === "message completed" && line.subscription === "process_order");
  expect(outcome).toMatchObject({
    requestId,
    orderId,
    messageId: orderId,
    subscription: "process_order",
    attempt: 1,
    outcome: "completed",
  });
  expect(typeof outcome?.durationMs).toBe("number");
});

test("a dead-lettered message's outcome line carries the same fields and its duration", async () => {
  const capture = captureLogs();
  service = await startTestService({ transform: useOrderHandler("permanent"), service: { log: capture.log } });
  const requestId = `req-${crypto.randomUUID()}`;
  const { id: orderId } = (await (
    await service.post(sampleOrder(), { "X-Request-Id": requestId })
  ).json()) as OrderJson;
  const lines = await eventually(
    async () => capture.lines(),
    (all) => all.some((line: LogLine) => line.outcome === "dead_lettered"),
  );
  const outcome = lines.find((line) => line.outcome === "dead_lettered");
  expect(outcome).toMatchObject({
    requestId,
    orderId,
    messageId: orderId,
    subscription: "process_order",
    attempt: 1,
    reason: "permanent",
  });
  expect(typeof outcome?.durationMs).toBe("number");
});

test("the start-up line names the broker rascal.json connects to when AMQP_URL is unset, password masked", async () => {
  const capture = captureLogs();
  service = await startTestService({
    env: { AMQP_URL: "" },
    transform: (config) => {
      config.vhosts["/"]!.connection = { url: "amqp://guest:guest@localhost:5672" };
    },
    service: { log: capture.log },
  });
  const connected = capture.lines().find((line) => line.msg === "connected");
  expect(connected?.amqp).toBe("amqp://guest:***@localhost:5672");
});
