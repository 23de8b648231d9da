import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { ORDER_PUBLICATION } from "../src/broker/topology";
import { blockOtherOrigins, launchBrowser, screenshotDir, settlesTo } from "./helpers/browser";
import { until } from "./helpers/eventually";
import { freePort } from "./helpers/free-port";
import { type OrderJson, startTestService, type TestService, useOrderHandler } from "./helpers/service";

const TOKEN = "console-browser-test-token";
let browser: Browser;
let screens: string;
let service: TestService | undefined;
let page: Page | undefined;

beforeAll(async () => {
  browser = await launchBrowser();
  screens = screenshotDir();
});
afterAll(() => browser.close());
afterEach(async () => {
  await page?.close();
  page = undefined;
  await service?.close();
  service = undefined;
});

async function startService(options: { role?: string; handler?: string } = {}): Promise<string> {
  const port = freePort();
  service = await startTestService({
    env: { ADMIN_TOKEN: TOKEN, PORT: String(port), HOST: "127.0.0.1", ROLE: options.role ?? "all" },
    service: { listen: true },
    ...(options.handler ? { transform: useOrderHandler(options.handler, { delays: [50], maxAttempts: 1 }) } : {}),
  });
  return `http://127.0.0.1:${port}`;
}

async function signIn(base: string, token = TOKEN): Promise<Page> {
  page = await browser.newPage();
  await page.goto(`${base}/console`);
  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  return page;
}

const post = (base: string, customerId: string) =>
  fetch(`${base}/orders`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ customerId, items: [{ sku: "SKU-1", quantity: 1, unitPrice: 2.5 }] }),
  }).then(async (response) => ((await response.json()) as OrderJson).id);

test("sign-in: a wrong token shows an error and nothing else; the right one opens the console", async () => {
  const base = await startService();
  const wrong = await signIn(base, "not-the-token-at-all");
  await settlesTo(() => wrong.getByRole("alert").textContent(), "That is not the admin token.");
  expect(await wrong.getByRole("navigation").count()).toBe(0);
  await wrong.screenshot({ path: join(screens, "sign-in-refused.png") });
  await wrong.close();

  const right = await signIn(base);
  await right.getByRole("heading", { name: "Overview" }).waitFor();
  for (const name of ["Overview", "Orders", "Dead letters", "Topology"])
    expect(await right.getByRole("link", { name, exact: true }).count()).toBe(1);
  // The token is in neither the address nor the cookie.
  expect(right.url()).not.toContain(TOKEN);
  const cookies = await right.context().cookies();
  expect(cookies.map((cookie) => cookie.name)).toEqual(["console_session"]);
  expect(cookies[0]!.value).not.toContain(TOKEN);
  expect(cookies[0]!.httpOnly).toBe(true);
  // Without the session, a page sends the browser back to the sign-in form.
  await right.context().clearCookies();
  await right.goto(`${base}/console/orders`);
  await right.getByLabel("Admin token").waitFor();
});

test("Overview: a queue's depth changes after orders are sent, without a reload", async () => {
  // The intake alone: nothing consumes, so the orders stay ready in the queue.
  const base = await startService({ role: "api" });
  const overview = await signIn(base);
  const ready = overview.locator('tr[data-queue="orders.process"] td').nth(1);
  await settlesTo(() => ready.textContent(), "0");
  await overview.evaluate("window.notReloaded = true");
  for (const customer of ["c-1", "c-2", "c-3"]) await post(base, customer);
  await until("the Overview shows 3 ready", async () => (await ready.textContent()) === "3", 15_000);
  expect(await overview.evaluate("window.notReloaded")).toBe(true);
  await overview.screenshot({ path: join(screens, "overview.png"), fullPage: true });
});

test("Orders: find a customer's order by Search, open its timeline, and the topology", async () => {
  const base = await startService();
  const id = await post(base, "c-find-me");
  await post(base, "c-someone-else");
  await service!.waitForOrder(id, (order) => order.status === "completed");
  const orders = await signIn(base);
  await orders.getByRole("link", { name: "Orders", exact: true }).click();
  await orders.getByLabel("Search").fill("c-find-me");
  await orders.getByLabel("Search").press("Enter");
  const rows = orders.getByRole("table", { name: "Orders" }).locator("tbody tr");
  await settlesTo(() => rows.count(), 1);
  await orders.screenshot({ path: join(screens, "orders.png"), fullPage: true });
  await rows.getByRole("link", { name: id }).click();
  const timeline = orders.getByRole("list", { name: "History" }).locator("li strong");
  await settlesTo(() => timeline.allTextContents(), ["accepted", "processing", "completed"]);
  expect(await orders.getByRole("button", { name: "Cancel" }).count()).toBe(0);
  await orders.screenshot({ path: join(screens, "order.png"), fullPage: true });

  // The Overview's chart counts them once the worker has reported (every 5 s), without a reload.
  await orders.getByRole("link", { name: "Overview" }).click();
  const chart = orders.getByRole("img", { name: /^process_order:/ });
  await until(
    "the chart counts both orders",
    async () => (await chart.getAttribute("aria-label"))!.includes("in 15 minutes completed 2,"),
    15_000,
  );
  await orders.screenshot({ path: join(screens, "overview-rates.png"), fullPage: true });

  await orders.getByRole("link", { name: "Topology" }).click();
  const subscription = orders.getByRole("table", { name: "Subscriptions" }).locator("tr", { hasText: "process_order" });
  expect(await subscription.textContent()).toContain("1000, 5000, 30000");
  await orders.screenshot({ path: join(screens, "topology.png"), fullPage: true });
});

test("Dead letters: one replayed from its row ends completed; Replay all by reason replays only those", async () => {
  const base = await startService({ handler: "fail-until-fixed" });
  const ids = [await post(base, "c-dl-1"), await post(base, "c-dl-2")];
  await service!.broker.publish(ORDER_PUBLICATION, Buffer.from("{ broken"), {
    messageId: "broken-console",
    contentType: "application/json",
  });
  for (const id of ids) await service!.waitForOrder(id, (order) => order.status === "dead_lettered");
  await service!.testRedis.set("fixed", "1");

  const view = await signIn(base);
  await view.getByRole("link", { name: "Dead letters" }).click();
  const rows = view.getByRole("table", { name: "Dead letters" }).locator("tbody tr");
  await until("three dead letters", async () => {
    await view.reload();
    return (await rows.count()) === 3;
  });
  await view.screenshot({ path: join(screens, "dead-letters.png"), fullPage: true });

  await view.getByLabel("Reason").selectOption("invalid_content");
  await view.getByRole("button", { name: "Apply" }).click();
  await settlesTo(() => rows.count(), 1);
  await view.getByRole("button", { name: "Replay all" }).click();
  await view.getByText("Replay 1 dead letter matching reason invalid_content").waitFor();
  await view.screenshot({ path: join(screens, "replay-all-confirmation.png") });
  await view.getByRole("button", { name: "Confirm replay all" }).click();
  await settlesTo(() => view.getByRole("status").textContent(), "Replayed 1.");
  // The orders' dead letters stayed where they were.
  for (const id of ids)
    expect(((await (await service!.getOrder(id)).json()) as OrderJson).status).toBe("dead_lettered");

  await view.getByLabel("Reason").selectOption("max_attempts");
  await view.getByRole("button", { name: "Apply" }).click();
  const row = rows.filter({ hasText: ids[0]! });
  await row.getByRole("button", { name: "Replay" }).click();
  await settlesTo(() => view.getByRole("status").textContent(), "Replayed.");
  await service!.waitForOrder(ids[0]!, (order) => order.status === "completed");
  expect(((await (await service!.getOrder(ids[1]!)).json()) as OrderJson).status).toBe("dead_lettered");
});

test("every console page and /docs load with all other origins blocked", async () => {
  const base = await startService();
  const id = await post(base, "c-offline");
  page = await browser.newPage();
  const blocked = await blockOtherOrigins(page, base);
  await page.goto(`${base}/console`);
  await page.getByLabel("Admin token").fill(TOKEN);
  await page.getByRole("button", { name: "Sign in" }).click();
  for (const [path, heading] of [
    ["/console/overview", "Overview"],
    ["/console/orders", "Orders"],
    [`/console/orders/${id}`, `Order ${id}`],
    ["/console/dead-letters", "Dead letters"],
    ["/console/topology", "Topology"],
  ] as const) {
    await page.goto(`${base}${path}`);
    await page.getByRole("heading", { name: heading, exact: true }).waitFor();
    expect(await page.evaluate("getComputedStyle(document.body).fontFamily")).toContain("system-ui");
  }
  await page.goto(`${base}/docs`);
  // The API reference renders from the service's own script: its operations are listed.
  await page.getByText("Accept an order").first().waitFor({ timeout: 15_000 });
  await page.screenshot({ path: join(screens, "docs.png") });
  expect(blocked).toEqual([]);
});
