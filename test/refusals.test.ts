import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../src/config";
import { MAX_LISTED_ERRORS } from "../src/http/problem";
import { freePort } from "./helpers/free-port";
import { expectProblem, sampleOrder, startTestService, type TestService } from "./helpers/service";

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

test("a body with thousands of unknown keys gets a short 422: the first errors and a count of the rest", async () => {
  service = await startTestService({ env: { ROLE: "api" } });
  const extra = Object.fromEntries(Array.from({ length: 6000 }, (_, index) => [`k${index}`, 1]));
  const response = await service.post({ ...sampleOrder(), ...extra });
  const text = await response.clone().text();
  const body = await expectProblem(response, 422);
  const errors = body.errors as { path: string; message: string }[];
  expect(errors).toHaveLength(MAX_LISTED_ERRORS + 1);
  expect(errors[0]).toEqual({ path: "k0", message: "unknown field" });
  expect(errors.at(-1)).toEqual({ path: "(more)", message: `${6000 - MAX_LISTED_ERRORS} more errors not listed` });
  expect(text.length).toBeLessThan(4096);
});

test("a charset other than UTF-8 is 415; utf-8 in any case is taken", async () => {
  service = await startTestService({ env: { ROLE: "api" } });
  const post = (contentType: string) =>
    service!.app.request("/orders", {
      method: "POST",
      headers: { "Content-Type": contentType },
      body: JSON.stringify(sampleOrder()),
    });
  for (const refused of [
    "application/json; charset=utf-16",
    "application/json;charset=ISO-8859-1",
    'application/json; charset="latin1"',
  ]) {
    const problem = await expectProblem(await post(refused), 415);
    expect(problem.detail).toContain("UTF-8");
  }
  for (const taken of ["application/json; charset=utf-8", "application/json; charset=UTF-8", "application/json"]) {
    expect((await post(taken)).status).toBe(202);
  }
});

test("customerId and sku with control or bidi-override characters are 422 at their path", async () => {
  service = await startTestService({ env: { ROLE: "api" } });
  const cases: [Record<string, unknown>, string][] = [
    [{ ...sampleOrder(), customerId: "c-\u0007" }, "customerId"],
    [{ ...sampleOrder(), customerId: "c-\u202egnp.exe" }, "customerId"],
    [{ ...sampleOrder(), customerId: "c\u2066x" }, "customerId"],
    [{ ...sampleOrder(), items: [{ sku: "SKU\u0085", quantity: 1, unitPrice: 1 }] }, "items.0.sku"],
    [{ ...sampleOrder(), items: [{ sku: "SKU\u007f", quantity: 1, unitPrice: 1 }] }, "items.0.sku"],
  ];
  for (const [body, path] of cases) {
    const problem = await expectProblem(await service.post(body), 422);
    expect((problem.errors as { path: string }[]).map((error) => error.path)).toContain(path);
  }
  // Letters of any script are fine.
  expect((await service.post({ ...sampleOrder(), customerId: "кли-42-客户" })).status).toBe(202);
});

test("an ADMIN_TOKEN shorter than 16 characters stops start-up naming the variable, not the value", () => {
  let error: unknown;
  try {
    loadConfig({ ADMIN_TOKEN: "short-secret" });
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toContain("ADMIN_TOKEN: must be at least 16 characters");
  expect((error as Error).message).not.toContain("short-secret");
  expect(loadConfig({ ADMIN_TOKEN: "sixteen-chars-ok" }).ADMIN_TOKEN).toBe("sixteen-chars-ok");
});

test("HOST is the interface the server binds: another loopback address is not answered", async () => {
  const port = freePort();
  service = await startTestService({
    env: { ROLE: "api", HOST: "127.0.0.2", PORT: String(port) },
    service: { listen: true },
  });
  expect((await fetch(`http://127.0.0.2:${port}/healthz`)).status).toBe(200);
  const elsewhere = await fetch(`http://127.0.0.1:${port}/healthz`).then(
    (response) => response.status,
    () => "refused",
  );
  expect(elsewhere).toBe("refused");
});

test("a handler that fails to load with a secret in its error is printed without the secret", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bad-handler-"));
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the handler file's own template
    writeFileSync(join(dir, "process-order.ts"), "throw new Error(`cannot use key ${process.env.CALLBACK_SECRET}`);\n");
    const child = Bun.spawn(["bun", new URL("../src/main.ts", import.meta.url).pathname], {
      cwd: new URL("..", import.meta.url).pathname,
      env: {
        PATH: process.env.PATH!,
        HOME: process.env.HOME ?? "/tmp",
        HANDLERS_DIR: dir,
        CALLBACK_SECRET: "cb-secret-value-42",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    expect(code).toBe(1);
    expect(stderr).toContain("process-order.ts failed to load: cannot use key ***");
    expect(stderr).not.toContain("cb-secret-value-42");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a request pipelined behind an order gets no answer: counted in http_responses_unsent_total", async () => {
  const port = freePort();
  service = await startTestService({ env: { ROLE: "api", PORT: String(port) }, service: { listen: true } });
  const body = JSON.stringify(sampleOrder());
  const pipelined =
    "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
    `Content-Length: ${body.length}\r\n\r\n${body}` +
    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  let received = "";
  const closed = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_socket, data) => {
        received += data.toString();
      },
      close: () => closed.resolve(),
      error: () => closed.resolve(),
    },
  });
  socket.write(pipelined);
  await Promise.race([closed.promise, Bun.sleep(5000)]);
  socket.end();
  // The order was taken, but its answer never left: what the metric is there to show.
  expect(received).toBe("");
  const unsent = async () =>
    (await service!.metrics.httpResponsesUnsent.get()).values.find((value) => value.labels.route === "/orders")?.value;
  for (let i = 0; i < 100 && (await unsent()) !== 1; i++) await Bun.sleep(20);
  expect(await unsent()).toBe(1);
  expect((await service.metrics.ordersAccepted.get()).values[0]?.value).toBe(1);
});
